using System.Buffers;
using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Benchmarks.Micro;
using MirrorKv.Client;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Benchmarks.Memory;

/// <summary>
/// Bytes allocated by the whole process (client, primary, secondary, transport, every thread) per one-sided
/// read, for single reads and for pipelined batches, and per sync-replicated write, one caller and four at
/// once, awaited the way an application awaits them; "receive-thread" as an argument completes on the
/// client's receive loop instead of the thread pool. BenchmarkDotNet's
/// MemoryDiagnoser counts its own harness too when a non-generic ValueTask completes asynchronously (it
/// waits on it through a Task), which is why this count exists beside OneSidedReadBenchmarks.
/// </summary>
internal static class HotPathAllocations
{
    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        int batches = args.Length > 0 && int.TryParse(args[0], out int n) ? n : 50_000;
        await using MirrorKvNode node = await MirrorKvNode.StartAsync(
            new NodeOptions { Role = NodeRole.Primary, ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0), Store = StoreOptions.Default with { MaxMemory = 64UL << 20 } },
            new TcpTransport());
        await using MirrorKvNode secondary = await MirrorKvNode.StartAsync(
            new NodeOptions { Role = NodeRole.Secondary, ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0), PrimaryEndPoint = node.EndPoint, Store = StoreOptions.Default with { MaxMemory = 64UL << 20 } },
            new TcpTransport());
        while (!node.IsProtected)
        {
            await Task.Delay(10);
        }

        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [node.EndPoint], CompleteOnReceiveThread = args.Contains("receive-thread") });
        string[] keys = [.. Enumerable.Range(0, 1024).Select(i => $"key:{i:D12}")];
        byte[] value = BenchData.Value(100, 1);
        foreach (string key in keys)
        {
            await client.SetAsync(key, value);
        }

        var batch = new string[16];
        ArrayBufferWriter<byte>[] writers = [.. Enumerable.Range(0, 16).Select(_ => new ArrayBufferWriter<byte>(256))];
        var found = new bool[16];
        int next = 0;

        async Task Pipelined(int count)
        {
            for (int b = 0; b < count; b++)
            {
                for (int i = 0; i < batch.Length; i++)
                {
                    batch[i] = keys[next++ & (keys.Length - 1)];
                    writers[i].ResetWrittenCount();
                }

                await client.TryGetManyAsync(batch, writers, found);
            }
        }

        async Task Single(int count)
        {
            for (int r = 0; r < count; r++)
            {
                writers[0].ResetWrittenCount();
                await client.TryGetAsync(keys[next++ & (keys.Length - 1)], writers[0]);
            }
        }

        async Task Writes(int count)
        {
            for (int r = 0; r < count; r++)
            {
                await client.SetAsync(keys[Interlocked.Increment(ref next) & (keys.Length - 1)], value);
            }
        }

        ReadOnlyMemory<byte>[] values = [.. Enumerable.Repeat<ReadOnlyMemory<byte>>(value, 16)];
        async Task PipelinedWrites(int count)
        {
            for (int b = 0; b < count; b++)
            {
                for (int i = 0; i < batch.Length; i++)
                {
                    batch[i] = keys[next++ & (keys.Length - 1)];
                }

                await client.SetManyAsync(batch, values);
            }
        }

        Task FourWriters(int count) => Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => Writes(count / 4))));

        foreach ((string name, Func<int, Task> run, int opsPerRun) in new (string, Func<int, Task>, int)[] { ("TryGetAsync", Single, 1), ("TryGetManyAsync of 16", Pipelined, 16), ("SetAsync", Writes, 1), ("SetAsync, 4 at once", FourWriters, 1), ("SetManyAsync of 16", PipelinedWrites, 16) })
        {
            await Task.Run(() => run(batches / 4));
            long before = GC.GetTotalAllocatedBytes(precise: true);
            await Task.Run(() => run(batches));
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            output.WriteLine($"{name,-22} {batches * opsPerRun,10:N0} ops  {allocated,10:N0} bytes allocated  {(double)allocated / (batches * opsPerRun),6:F2} B per op");
        }

        return 0;
    }
}
