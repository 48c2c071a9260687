using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MirrorKv.Cli.Keys;

/// <summary>
/// A connection to a node's RESP port for the operator commands: one command at a time, replies parsed
/// whole. Not the bench's pipelined client: an operator's command is a handful of round trips, and this one
/// reads any reply shape (errors, integers, nested arrays) and bounds what it accepts.
/// </summary>
internal sealed class RespConnection : IAsyncDisposable
{
    // A bulk reply larger than the largest value a node stores (1 MiB slabs by default; 64 MiB frames at most)
    // is no reply of a MirrorKv node: refuse it rather than allocate what a wrong port announces.
    private const int MaxBulk = 64 << 20;
    private const int MaxArray = 1 << 20;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly TimeSpan _timeout;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RespConnection(Socket socket, TimeSpan timeout)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _timeout = timeout;
    }

    public static async Task<RespConnection> ConnectAsync(IPEndPoint endPoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            await socket.ConnectAsync(endPoint, deadline.Token);
            return new RespConnection(socket, timeout);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends one command (an array of bulk strings) and reads its reply.</summary>
    public async Task<RespReply> SendAsync(CancellationToken cancellationToken, params byte[][] arguments)
    {
        var request = new MemoryStream();
        Write(request, $"*{arguments.Length}\r\n");
        foreach (byte[] argument in arguments)
        {
            Write(request, $"${argument.Length}\r\n");
            request.Write(argument);
            Write(request, "\r\n");
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_timeout);
        try
        {
            await _stream.WriteAsync(request.GetBuffer().AsMemory(0, (int)request.Length), deadline.Token);
            return await ReadReplyAsync(depth: 0, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no reply within {_timeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>As <see cref="SendAsync(CancellationToken, byte[][])"/>, with text arguments.</summary>
    public Task<RespReply> SendAsync(CancellationToken cancellationToken, params string[] arguments) =>
        SendAsync(cancellationToken, [.. arguments.Select(Encoding.UTF8.GetBytes)]);

    public async ValueTask DisposeAsync() => await _stream.DisposeAsync();

    private static void Write(MemoryStream stream, string text) => stream.Write(Encoding.ASCII.GetBytes(text));

    private async Task<RespReply> ReadReplyAsync(int depth, CancellationToken cancellationToken)
    {
        string line = await ReadLineAsync(cancellationToken);
        if (line.Length == 0)
        {
            throw new InvalidDataException("an empty reply line: this is not a RESP port");
        }

        string rest = line[1..];
        switch (line[0])
        {
            case '+' or '-':
                return new RespReply(line[0], Encoding.UTF8.GetBytes(rest));
            case ':':
                return new RespReply(':', Integer: Number(rest, long.MinValue, long.MaxValue));
            case '$':
                long length = Number(rest, -1, MaxBulk);
                if (length < 0)
                {
                    return new RespReply('$');
                }

                byte[] bulk = await ReadExactAsync((int)length + 2, cancellationToken);
                return new RespReply('$', bulk[..^2]);
            case '*':
                long count = Number(rest, -1, MaxArray);
                if (count < 0 || depth > 8)
                {
                    return count < 0 ? new RespReply('*') : throw new InvalidDataException("arrays nested too deep");
                }

                var items = new RespReply[count];
                for (int i = 0; i < count; i++)
                {
                    items[i] = await ReadReplyAsync(depth + 1, cancellationToken);
                }

                return new RespReply('*', Items: items);
            default:
                throw new InvalidDataException($"a reply starting with '{line[0]}': this is not a RESP port (or a RESP3 reply, which these commands never ask for)");
        }
    }

    private static long Number(string text, long min, long max) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n) && n >= min && n <= max
            ? n
            : throw new InvalidDataException($"'{text}' is not a length or an integer this client accepts");

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int newline = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8);
            if (newline >= 0)
            {
                string line = Encoding.UTF8.GetString(_buffer, _start, newline);
                _start += newline + 2;
                return line;
            }

            if (_start == 0 && _end == _buffer.Length)
            {
                throw new InvalidDataException($"a reply line longer than {_buffer.Length} bytes: this is not a RESP port");
            }

            await FillAsync(cancellationToken);
        }
    }

    private async Task<byte[]> ReadExactAsync(int count, CancellationToken cancellationToken)
    {
        var result = new byte[count];
        int copied = 0;
        while (copied < count)
        {
            if (_start == _end)
            {
                await FillAsync(cancellationToken);
            }

            int n = Math.Min(count - copied, _end - _start);
            _buffer.AsSpan(_start, n).CopyTo(result.AsSpan(copied));
            _start += n;
            copied += n;
        }

        return result;
    }

    private async Task FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        int read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        if (read == 0)
        {
            throw new IOException("the node closed the connection");
        }

        _end += read;
    }
}
