using System.Runtime.CompilerServices;
using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MirrorKv.Cli.Redis;

/// <summary>
/// A small pipelined RESP client for benchmarks and memory figures: a batch of commands is encoded into one
/// buffer and sent with one write, replies are parsed from one receive buffer, and nothing is allocated per
/// command. Not a general client: GET, SET and INFO, and one command at a time for setup.
/// </summary>
internal sealed class RespClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private byte[] _out = new byte[64 * 1024];
    private int _outLength;
    private byte[] _in = new byte[256 * 1024];
    private int _inStart;
    private int _inEnd;

    private RespClient(Socket socket) => _socket = socket;

    public static Task<RespClient> ConnectAsync(int port) => ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));

    public static async Task<RespClient> ConnectAsync(IPEndPoint endPoint, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new RespClient(socket);
    }

    /// <summary>
    /// SET of every key to <paramref name="value"/>, pipelined; every reply must be +OK. With
    /// <paramref name="waitForReplica"/>, the batch ends with <c>WAIT 1 0</c>, which redis answers once its
    /// replica has acknowledged every write before it (or never, timeout 0): redis's synchronous write.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SetManyAsync(IReadOnlyList<byte[]> keys, ReadOnlyMemory<byte> value, bool waitForReplica = false)
    {
        _outLength = 0;
        foreach (byte[] key in keys)
        {
            Command("SET"u8, key, value.Span);
        }

        if (waitForReplica)
        {
            Command("WAIT"u8, "1"u8, "0"u8);
        }

        await SendAsync();
        for (int i = 0; i < keys.Count; i++)
        {
            (byte kind, int length) = await ReadReplyAsync();
            if (kind != (byte)'+')
            {
                throw new InvalidOperationException($"redis answered SET with '{(char)kind}' ({length}).");
            }
        }

        if (waitForReplica)
        {
            (byte kind, int replicas) = await ReadReplyAsync();
            if (kind != (byte)':' || replicas < 1)
            {
                throw new InvalidOperationException($"redis answered WAIT 1 0 with '{(char)kind}' ({replicas}): its replica did not acknowledge.");
            }
        }
    }

    /// <summary>GET of every key, pipelined; returns how many values had <paramref name="expectedLength"/> bytes.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> GetManyAsync(IReadOnlyList<byte[]> keys, int expectedLength)
    {
        _outLength = 0;
        foreach (byte[] key in keys)
        {
            Command("GET"u8, key, default, arguments: 2);
        }

        await SendAsync();
        int found = 0;
        for (int i = 0; i < keys.Count; i++)
        {
            (byte kind, int length) = await ReadReplyAsync();
            found += kind == (byte)'$' && length == expectedLength ? 1 : 0;
        }

        return found;
    }

    /// <summary>GET of every key, pipelined; marks which had <paramref name="expectedLength"/> bytes and returns how many.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> GetManyAsync(IReadOnlyList<byte[]> keys, int expectedLength, bool[] found)
    {
        _outLength = 0;
        foreach (byte[] key in keys)
        {
            Command("GET"u8, key, default, arguments: 2);
        }

        await SendAsync();
        int count = 0;
        for (int i = 0; i < keys.Count; i++)
        {
            (byte kind, int length) = await ReadReplyAsync();
            found[i] = kind == (byte)'$' && length == expectedLength;
            count += found[i] ? 1 : 0;
        }

        return count;
    }

    /// <summary>
    /// One command of any arity (CONFIG SET, DBSIZE), not on a hot path: its reply as text (a status, an
    /// integer or a bulk string); an error reply throws.
    /// </summary>
    public async Task<string> CallAsync(params string[] parts)
    {
        _outLength = 0;
        Ensure(64 + parts.Sum(p => p.Length + 16));
        _out[_outLength++] = (byte)'*';
        Number(parts.Length);
        Crlf();
        foreach (string part in parts)
        {
            Bulk(Encoding.UTF8.GetBytes(part));
        }

        await SendAsync();
        (byte kind, int length) = await ReadReplyAsync();
        return kind switch
        {
            (byte)'$' => Encoding.UTF8.GetString(_in, _lastBulkStart, length),
            (byte)'+' or (byte)':' => Encoding.ASCII.GetString(_in, _lastLineStart, _lastLineLength),
            _ => throw new InvalidOperationException($"redis answered {parts[0]} with '{(char)kind}'"),
        };
    }

    public async Task<Dictionary<string, string>> InfoAsync(string section)
    {
        _outLength = 0;
        Command("INFO"u8, Encoding.ASCII.GetBytes(section), default, arguments: 2);
        await SendAsync();
        (byte kind, int length) = await ReadReplyAsync();
        if (kind != (byte)'$')
        {
            throw new InvalidOperationException("redis answered INFO with no bulk string.");
        }

        var fields = new Dictionary<string, string>();
        foreach (string line in Encoding.ASCII.GetString(_in, _lastBulkStart, length).Split("\r\n"))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                fields[line[..colon]] = line[(colon + 1)..];
            }
        }

        return fields;
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    private int _lastBulkStart;
    private int _lastLineStart;
    private int _lastLineLength;

    // One command: *N CRLF, then $len CRLF bytes CRLF per part.
    private void Command(ReadOnlySpan<byte> name, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, int arguments = 3)
    {
        Ensure(64 + name.Length + key.Length + value.Length);
        _out[_outLength++] = (byte)'*';
        Number(arguments);
        Crlf();
        Bulk(name);
        Bulk(key);
        if (arguments == 3)
        {
            Bulk(value);
        }
    }

    private void Bulk(ReadOnlySpan<byte> bytes)
    {
        _out[_outLength++] = (byte)'$';
        Number(bytes.Length);
        Crlf();
        bytes.CopyTo(_out.AsSpan(_outLength));
        _outLength += bytes.Length;
        Crlf();
    }

    private void Crlf()
    {
        _out[_outLength++] = (byte)'\r';
        _out[_outLength++] = (byte)'\n';
    }

    private void Number(int value)
    {
        Utf8Formatter.TryFormat(value, _out.AsSpan(_outLength), out int written);
        _outLength += written;
    }

    private void Ensure(int more)
    {
        if (_out.Length - _outLength < more)
        {
            Array.Resize(ref _out, Math.Max(_out.Length * 2, _outLength + more));
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendAsync()
    {
        ReadOnlyMemory<byte> batch = _out.AsMemory(0, _outLength);
        while (!batch.IsEmpty)
        {
            batch = batch[await _socket.SendAsync(batch, SocketFlags.None)..];
        }
    }

    /// <summary>Reads one reply: its type byte and its length (bulk) or 0; the bulk's bytes are skipped unless kept.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(byte Kind, int Length)> ReadReplyAsync()
    {
        int lineEnd;
        while ((lineEnd = _in.AsSpan(_inStart, _inEnd - _inStart).IndexOf("\r\n"u8)) < 0)
        {
            await FillAsync();
        }

        byte kind = _in[_inStart];
        ReadOnlySpan<byte> line = _in.AsSpan(_inStart + 1, lineEnd - 1);
        _lastLineStart = _inStart + 1;
        _lastLineLength = lineEnd - 1;
        _inStart += lineEnd + 2;
        if (kind == (byte)':')
        {
            // An integer reply (WAIT's count of replicas): the number in place of a length.
            return (kind, Utf8Parser.TryParse(line, out int number, out _) ? number : -1);
        }

        if (kind != (byte)'$')
        {
            return (kind, 0);
        }

        if (!Utf8Parser.TryParse(line, out int length, out _) || length < 0)
        {
            return (kind, -1);
        }

        while (_inEnd - _inStart < length + 2)
        {
            await FillAsync();
        }

        _lastBulkStart = _inStart;
        _inStart += length + 2;
        return (kind, length);
    }

    private async ValueTask FillAsync()
    {
        if (_inStart > 0)
        {
            Buffer.BlockCopy(_in, _inStart, _in, 0, _inEnd - _inStart);
            _inEnd -= _inStart;
            _lastBulkStart -= _inStart;
            _inStart = 0;
        }

        if (_inEnd == _in.Length)
        {
            Array.Resize(ref _in, _in.Length * 2);
        }

        int read = await _socket.ReceiveAsync(_in.AsMemory(_inEnd), SocketFlags.None);
        if (read == 0)
        {
            throw new InvalidOperationException("redis closed the connection.");
        }

        _inEnd += read;
    }
}
