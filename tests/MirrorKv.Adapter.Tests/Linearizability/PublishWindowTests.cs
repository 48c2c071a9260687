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

    [Fact]
    public async Task LookupDuringADeletesReplicationWindow_NeverAnswersNotFoundForAKeyTheFailoverBringsBack()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        var history = new HistoryRecorder();
        var reader = new RecordedClient(await pair.ConnectClientAsync(), history);
        var writer = new RecordedClient(await pair.ConnectClientAsync(), history);
        await writer.SetAsync("k", 1);
        Assert.Equal(1, await reader.GetAsync("k"));

        // The delete is local on the primary (unindexed, tombstoned unpublished); its record never leaves.
        pair.Network.Cut(PairFixture.PrimaryAddress, PairFixture.SecondaryAddress);
        ulong lsnBefore = pair.Primary.Lsn;
        RawClient raw = await RawClient.ConnectAsync(pair);
        history.InvokeWrite("k", null);
        Task<(WireStatus, string)> held = raw.KvAsync(Opcode.Delete, pair.Primary.Epoch, "k", "");
        await Waits.UntilAsync(() => pair.Primary.Lsn > lsnBefore, "the primary's local delete of k");

        // Both ways a reader could hear of the delete: a LOOKUP (the reader has no pointer) and a read whose
        // pointer meets the unpublished tombstone and falls back to LOOKUP. Neither may answer "not found" now.
        RawClient looker = await RawClient.ConnectAsync(pair);
        Task<(WireStatus Status, string)> lookup = looker.LookupAsync("k");
        Task<long?> duringWindow = reader.GetAsync("k");
        await Task.WhenAny(lookup, Task.Delay(TimeSpan.FromMilliseconds(150)));
        Assert.False(lookup.IsCompletedSuccessfully && (await lookup).Status == WireStatus.NotFound, "LOOKUP answered NotFound for a delete the secondary does not hold");

        pair.Network.Crash(PairFixture.PrimaryAddress);
        await Waits.UntilAsync(() => pair.Secondary.Role == NodeRole.Primary, "the secondary's promotion");
        await Task.WhenAny(duringWindow, Task.Delay(TimeSpan.FromSeconds(10)));
        for (int i = 0; i < 3; i++)
        {
            await reader.GetAsync("k");
        }

        Assert.False(held.IsCompletedSuccessfully && (await held).Item1 == WireStatus.Ok, "the held delete was acknowledged");
        CheckReport report = LinearizabilityChecker.Check(history.Snapshot());
        Assert.True(report.IsLinearizable, report.ToText());
        Assert.Equal(1, await reader.GetAsync("k"));
    }

    [Fact]
    public async Task LookupOfAKeyDeletedPending_AnswersNotFoundOnceTheAckArrives()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        RawClient raw = await RawClient.ConnectAsync(pair);
        Assert.Equal(WireStatus.Ok, (await raw.WriteAsync(pair.Primary.Epoch, "k", "1")).Item1);

        // The record reaches the secondary; its ack is held on the way back.
        pair.Network.Cut(PairFixture.SecondaryAddress, PairFixture.PrimaryAddress);
        Task<(WireStatus Status, string)> delete = raw.KvAsync(Opcode.Delete, pair.Primary.Epoch, "k", "");
        await Waits.UntilAsync(() => pair.Secondary.Lsn >= pair.Primary.Lsn && !pair.Primary.Store.TryLookup("k"u8, out _, out _), "the delete applied at the secondary");
        RawClient looker = await RawClient.ConnectAsync(pair);
        Task<(WireStatus Status, string)> lookup = looker.LookupAsync("k");
        Task<(WireStatus Status, string)> absent = looker.LookupAsync("never-written");
        Assert.Equal(WireStatus.NotFound, (await absent.WaitAsync(TimeSpan.FromSeconds(5))).Status);
        Assert.False(lookup.IsCompleted, "LOOKUP answered before the delete was published");

        pair.Network.Restore();
        Assert.Equal(WireStatus.Ok, (await delete.WaitAsync(TimeSpan.FromSeconds(10))).Status);
        Assert.Equal(WireStatus.NotFound, (await lookup.WaitAsync(TimeSpan.FromSeconds(10))).Status);
    }
}
