namespace MirrorKv.Transport;

/// <summary>
/// Bytes received and not yet delivered. Starts small and grows to hold the largest frame in flight,
/// never beyond the connection's maximum frame size, so a connection's receive memory is bounded.
/// </summary>
internal sealed class ReceiveBuffer(int initialSize)
{
    private byte[] _buffer = new byte[initialSize];
    private int _start;
    private int _end;

    public ReadOnlySpan<byte> Data => _buffer.AsSpan(_start, _end - _start);

    public int Capacity => _buffer.Length;

    /// <summary>Free space after the data, compacting first so receives get as much room as possible.</summary>
    public Memory<byte> WritableMemory()
    {
        if (_start > 0 && (_end == _buffer.Length || _start == _end || _start > _buffer.Length / 2))
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        return _buffer.AsMemory(_end);
    }

    public void Advance(int count) => _end += count;

    public void Consume(int count)
    {
        _start += count;
        if (_start == _end)
        {
            _start = _end = 0;
        }
    }

    /// <summary>Gives back a buffer that grew for a large frame once it is empty again.</summary>
    public void TrimIfIdle(int retainedSize, int initialSize)
    {
        if (_start == _end && _buffer.Length > retainedSize)
        {
            _buffer = new byte[initialSize];
            _start = _end = 0;
        }
    }

    /// <summary>Makes room for a frame of <paramref name="frameLength"/> bytes starting at the data's start.</summary>
    public void EnsureFrameFits(int frameLength)
    {
        if (frameLength <= _buffer.Length - _start)
        {
            return;
        }

        var bigger = new byte[Math.Max(frameLength, Math.Min(_buffer.Length * 2, int.MaxValue / 2))];
        Buffer.BlockCopy(_buffer, _start, bigger, 0, _end - _start);
        _end -= _start;
        _start = 0;
        _buffer = bigger;
    }
}
