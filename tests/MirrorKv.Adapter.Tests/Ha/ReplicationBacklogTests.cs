using System.Diagnostics;
using System.Text;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// A sync primary takes no more writes from a client once the secondary is a fifth of a lease behind
/// (<see cref="NodeOptions.ReplicationBacklogLimit"/>): heartbeats travel behind the records in the peer link, so an
/// unbounded backlog holds back the echo that renews the lease, and the primary fenced in the middle of a burst.
/// </summary>
public class ReplicationBacklogTests
{
    [Fact]
    public async Task SecondaryFallingBehind_PrimaryStopsTakingWrites_UntilItCatchesUp_AndNoWriteFails()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKv.Client.MirrorKvClient client = await pair.ConnectClientAsync(requestTimeout: TimeSpan.FromSeconds(10));
        Assert.Equal(TimeSpan.FromMilliseconds(100), pair.Primary.Options.ReplicationBacklogLimit);
        ulong epoch = pair.Primary.Epoch;

        // Nothing the primary sends reaches the secondary for 300 ms (its records and heartbeats are held, then
        // delivered in order): the secondary falls behind. Meanwhile a client sends a write every 5 ms.
        ulong before = pair.Primary.Lsn;
        pair.Network.Cut(PairFixture.PrimaryAddress, PairFixture.SecondaryAddress);
        var writes = new List<Task>();
        int early = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMilliseconds(300))
        {
            writes.Add(client.SetAsync($"backlog:{writes.Count}", Encoding.ASCII.GetBytes("v")).AsTask());
            early = clock.Elapsed < TimeSpan.FromMilliseconds(150) ? writes.Count : early;
            await Task.Delay(5);
        }

        ulong taken = pair.Primary.Lsn - before;
        pair.Network.Restore();
        await Waits.ForAsync(Task.WhenAll(writes), "every write to be acknowledged once the secondary caught up", seconds: 10);

        // The writes of the first 100 ms or so were taken, then none until the secondary confirmed them; without
        // the limit every one was (all were sent well inside the lease).
        Assert.True(writes.Count - early >= 10, $"only {writes.Count - early} of {writes.Count} writes were sent in the cut's second half: the test did not run as meant");
        Assert.True(taken <= (ulong)early + 2, $"the primary took {taken} of {writes.Count} writes while its secondary was 300 ms behind ({early} sent in the first 150 ms)");
        Assert.Equal(NodeRole.Primary, pair.Primary.Role);
        Assert.Equal(epoch, pair.Primary.Epoch);
        for (int i = 0; i < writes.Count; i++)
        {
            Assert.True(pair.Secondary.Store.TryLookup(Encoding.ASCII.GetBytes($"backlog:{i}"), out _, out _), $"write {i} is on the secondary");
        }
    }
}
