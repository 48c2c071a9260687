using System.Buffers;
using System.Collections.Concurrent;
using MirrorKv.Cli;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// The checked workload of demo, chaos and bench --failover judges every value it reads without allocating: these
/// run it over a store in memory that can tear values or forget writes, and check that it counts exactly those.
/// </summary>
public sealed class WorkloadCheckTests
{
    [Fact]
    public async Task HonestStore_NoBadReadAndNoLostWrite()
    {
        var store = new MemoryTarget();
        (Workload workload, long bad) = await RunAsync(store);
        Assert.True(workload.Reads > 100 && workload.Writes > 100, $"{workload.Reads} reads, {workload.Writes} writes");
        Assert.Equal(0, bad);
        Assert.Equal(0, await workload.VerifyAsync(store, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task TornValues_AreBadReads()
    {
        var store = new MemoryTarget { Tear = true };
        (Workload workload, long bad) = await RunAsync(store);
        Assert.True(bad > 0 && bad == workload.Reads, $"{bad} bad of {workload.Reads} reads");
    }

    [Fact]
    public async Task ForgottenWrites_AreLost_AndTheirOlderValuesBadReads()
    {
        var store = new MemoryTarget { Forget = true };
        (Workload workload, long bad) = await RunAsync(store);
        Assert.True(bad > 0, "a value older than acknowledged was not counted");
        Assert.True(await workload.VerifyAsync(store, TestContext.Current.CancellationToken) > 0);
    }

    private static async Task<(Workload, long BadReads)> RunAsync(MemoryTarget store)
    {
        var workload = new Workload(keys: 64, valueSize: 40, say: _ => { });
        Assert.True(await workload.TryLoadAsync(store, TestContext.Current.CancellationToken));
        store.Loaded = true;
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Task.WhenAll(workload.Start(store, readers: 2, writers: 2, stop.Token));
        return (workload, workload.BadReads);
    }

    private sealed class MemoryTarget : IWorkloadTarget
    {
        private readonly ConcurrentDictionary<string, byte[]> _values = new(StringComparer.Ordinal);

        public bool Tear { get; init; }

        // After the load, writes are acknowledged and dropped: the store keeps each key's first value.
        public bool Forget { get; init; }

        public bool Loaded { get; set; }

        public async ValueTask<bool> TryGetAsync(string key, IBufferWriter<byte> destination, CancellationToken cancellationToken)
        {
            await Task.Yield();
            if (!_values.TryGetValue(key, out byte[]? value))
            {
                return false;
            }

            Span<byte> copy = destination.GetSpan(value.Length)[..value.Length];
            value.CopyTo(copy);
            if (Tear)
            {
                copy[^1] ^= 0xFF;
            }

            destination.Advance(value.Length);
            return true;
        }

        public async ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
        {
            await Task.Yield();
            if (!(Forget && Loaded))
            {
                _values[key] = value.ToArray();
            }
        }
    }
}
