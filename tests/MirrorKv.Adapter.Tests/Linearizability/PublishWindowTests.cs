using MirrorKv.Linearizability;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// Issue 20's window, produced on purpose: the primary has written a value into its memory, its REPLICATE record
/// has not left (the link to the secondary is cut), and a one-sided reader reads the key; then the primary dies
/// and the secondary takes over without the value. A reader that saw it would see it vanish, which the checker
/// reports: the write is unknown (never acknowledged), but a value read and then gone is not linearizable.
/// </summary>
public class PublishWindowTests
{
    [Fact]
    public async Task ReaderDuringTheReplicationWindow_NeverSeesAValueThatVanishesAfterFailover()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        var history = new HistoryRecorder();
        var reader = new RecordedClient(await pair.ConnectClientAsync(), history);
        var writer = new RecordedClient(await pair.ConnectClientAsync(), history);
        await writer.SetAsync("k", 1);
        Assert.Equal(1, await reader.GetAsync("k"));

        // The fault point: the primary's write is local, its record held in the network (a black hole that TCP
        // would retransmit through later; the primary dies first). A raw client, because MirrorKvClient would
        // send the write again to the promoted secondary and so make the value real.
        pair.Network.Cut(PairFixture.PrimaryAddress, PairFixture.SecondaryAddress);
        ulong lsnBefore = pair.Primary.Lsn;
        RawClient raw = await RawClient.ConnectAsync(pair);
        history.InvokeWrite("k", 2); // never completes: Unknown in the history
        Task<(WireStatus, string)> held = raw.WriteAsync(pair.Primary.Epoch, "k", "2");
        await Waits.UntilAsync(() => pair.Primary.Lsn > lsnBefore, "the primary's local write of k=2");

        // Well inside the primary's lease (500 ms after the last stamp the secondary heard): the primary serves.
        Task<long?> duringWindow = reader.GetAsync("k");
        await Task.WhenAny(duringWindow, Task.Delay(TimeSpan.FromMilliseconds(150)));

        pair.Network.Crash(PairFixture.PrimaryAddress);
        await Waits.UntilAsync(() => pair.Secondary.Role == NodeRole.Primary, "the secondary's promotion");
        await duringWindow.WaitAsync(TimeSpan.FromSeconds(10));
        for (int i = 0; i < 3; i++)
        {
            await reader.GetAsync("k");
        }

        Assert.False(held.IsCompletedSuccessfully && (await held).Item1 == WireStatus.Ok, "the held write was acknowledged");
        CheckReport report = LinearizabilityChecker.Check(history.Snapshot());
        Assert.True(report.IsLinearizable, report.ToText());
        Assert.Equal(1, await reader.GetAsync("k"));
    }
}
