using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MirrorKv.Benchmarks.Memory;

/// <summary>
/// Just enough RESP to load redis and read INFO: pipelined SETs, one write and one read loop per batch.
/// Not a general client; the benchmark harness of the node-pair issue will have its own.
/// </summary>
internal sealed class RespClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly MemoryStream _out = new();
    private readonly byte[] _in = new byte[1 << 16];
    private int _inStart;
    private int _inEnd;

    private RespClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public static async Task<RespClient> ConnectAsync(int port)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        return new RespClient(tcp);
    }

    public async Task SetManyAsync(IReadOnlyList<byte[]> keys, byte[] value)
    {
        _out.SetLength(0);
        foreach (byte[] key in keys)
        {
            WriteCommand("SET"u8, key, value);
        }

        await _stream.WriteAsync(_out.GetBuffer().AsMemory(0, (int)_out.Length));
        for (int i = 0; i < keys.Count; i++)
        {
            string reply = await ReadLineAsync();
            if (reply != "+OK")
            {
                throw new InvalidOperationException($"redis answered SET with '{reply}'.");
            }
        }
    }

    public async Task<Dictionary<string, string>> InfoAsync(string section)
    {
        _out.SetLength(0);
        WriteCommand("INFO"u8, Encoding.ASCII.GetBytes(section));
        await _stream.WriteAsync(_out.GetBuffer().AsMemory(0, (int)_out.Length));
        string header = await ReadLineAsync();
        if (!header.StartsWith('$'))
        {
            throw new InvalidOperationException($"redis answered INFO with '{header}'.");
        }

        int length = int.Parse(header.AsSpan(1), CultureInfo.InvariantCulture);
        var text = new StringBuilder();

        // The bulk body is length bytes of CRLF-ended lines, then the bulk's own CRLF (an empty line).
        while (text.Length < length)
        {
            text.Append(await ReadLineAsync()).Append("\r\n");
        }

        await ReadLineAsync();
        var fields = new Dictionary<string, string>();
        foreach (string line in text.ToString().Split("\r\n"))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                fields[line[..colon]] = line[(colon + 1)..];
            }
        }

        return fields;
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
        await _out.DisposeAsync();
    }

    private void WriteCommand(ReadOnlySpan<byte> name, params ReadOnlySpan<byte[]> args)
    {
        WriteAscii($"*{args.Length + 1}\r\n${name.Length}\r\n");
        _out.Write(name);
        WriteAscii("\r\n");
        WriteCommandArgs(args);
    }

    private void WriteCommandArgs(ReadOnlySpan<byte[]> args)
    {
        foreach (byte[] arg in args)
        {
            WriteAscii($"${arg.Length}\r\n");
            _out.Write(arg);
            WriteAscii("\r\n");
        }
    }

    private void WriteAscii(string s) => _out.Write(Encoding.ASCII.GetBytes(s));

    private async Task<string> ReadLineAsync()
    {
        while (true)
        {
            int newline = _in.AsSpan(_inStart, _inEnd - _inStart).IndexOf("\r\n"u8);
            if (newline >= 0)
            {
                string line = Encoding.ASCII.GetString(_in, _inStart, newline);
                _inStart += newline + 2;
                return line;
            }

            if (_inStart > 0)
            {
                Buffer.BlockCopy(_in, _inStart, _in, 0, _inEnd - _inStart);
                _inEnd -= _inStart;
                _inStart = 0;
            }

            int read = await _stream.ReadAsync(_in.AsMemory(_inEnd));
            if (read == 0)
            {
                throw new InvalidOperationException("redis closed the connection.");
            }

            _inEnd += read;
        }
    }
}
