using System.Buffers;
using System.Net;
using BenchmarkDotNet.Attributes;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Benchmarks.Micro;

/// <summary>
/// A one-sided GET end to end over TCP loopback, node and client in this one process, so that the
/// MemoryDiagnoser (which counts every thread's allocations) covers the client's and the server's read
/// path together. Latency here is a same-process round trip, not a figure to compare with redis.
/// </summary>
[MemoryDiagnoser]
public class OneSidedReadBenchmarks
{
    private const int Keys = 1024;
    private const int Batch = 16;
    private MirrorKvNode _node = null!;
    private MirrorKvClient _client = null!;
    private string[] _keys = [];
    private string[] _batch = [];
    private ArrayBufferWriter<byte> _writer = null!;
    private ArrayBufferWriter<byte>[] _writers = [];
    private bool[] _found = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        // As mirrorkv does at start: socket completions on the epoll thread (see src/MirrorKv.Cli/Program.cs).
        Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
        _node = MirrorKvNode.StartAsync(
            new NodeOptions { Role = NodeRole.Primary, ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0), Store = StoreOptions.Default with { MaxMemory = 64UL << 20 } },
            new TcpTransport()).GetAwaiter().GetResult();
        _client = MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [_node.EndPoint] }).GetAwaiter().GetResult();
        _keys = Enumerable.Range(0, Keys).Select(i => $"key:{i:D12}").ToArray();
        byte[] value = BenchData.Value(100, 1);
        foreach (string key in _keys)
        {
            _client.SetAsync(key, value).AsTask().GetAwaiter().GetResult();
        }

        _writer = new ArrayBufferWriter<byte>(256);
        _batch = new string[Batch];
        _writers = Enumerable.Range(0, Batch).Select(_ => new ArrayBufferWriter<byte>(256)).ToArray();
        _found = new bool[Batch];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _node.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    // ValueTask straight from the client: an async wrapper here would allocate its own state machine.
    [Benchmark]
    public ValueTask<bool> Get()
    {
        _writer.ResetWrittenCount();
        return _client.TryGetAsync(_keys[_next++ & (Keys - 1)], _writer);
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public ValueTask GetPipelined16()
    {
        for (int i = 0; i < Batch; i++)
        {
            _batch[i] = _keys[_next++ & (Keys - 1)];
            _writers[i].ResetWrittenCount();
        }

        return _client.TryGetManyAsync(_batch, _writers, _found);
    }
}
