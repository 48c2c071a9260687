namespace MirrorKv.Adapter.Resp;

/// <summary>
/// One parsed request: its arguments are slices of the receive buffer (nothing is copied), described by
/// (start, length) pairs in a table the connection keeps. Valid only while the buffer is, i.e. during the call
/// that serves it.
/// </summary>
internal readonly ref struct RespRequest
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly ReadOnlySpan<int> _table;

    public RespRequest(ReadOnlySpan<byte> data, ReadOnlySpan<int> table, int count)
    {
        _data = data;
        _table = table;
        Count = count;
    }

    /// <summary>Arguments, the command's name included.</summary>
    public int Count { get; }

    /// <summary>Argument <paramref name="index"/> (0 is the command's name).</summary>
    public ReadOnlySpan<byte> this[int index] => _data.Slice(_table[2 * index], _table[(2 * index) + 1]);
}
