using System.Globalization;
using System.Text;
using MirrorKv.Entries;
using MirrorKv.Linearizability;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Store;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// Issue 20 point 2, the rule that a read served by the secondary never goes backwards against reads served by the
/// primary: the secondary holds a value before the primary publishes it (publish after the ack), and applies in LSN
/// order, never undoing; so once any reader saw a value at the secondary, the primary shows that value or a later
/// one, never the one before.
/// </summary>
public class SecondaryReadOrderTests
{
    [Fact]
    public async Task ValueReadAtTheSecondaryBeforeThePrimaryHeardTheAck_IsNeverFollowedByTheOldValueAtThePrimary()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        var history = new HistoryRecorder();
        var reader = new RecordedClient(await pair.ConnectClientAsync(), history);
        var writer = new RecordedClient(await pair.ConnectClientAsync(), history);
        await writer.SetAsync("k", 1);
        Assert.Equal(1, await reader.GetAsync("k"));
        Assert.True(pair.Primary.Store.TryLookup("k"u8, out RemotePointer pointer, out _));

        // The record reaches the secondary and is applied; its ack is held on the way back.
        pair.Network.Cut(PairFixture.SecondaryAddress, PairFixture.PrimaryAddress);
        RawClient raw = await RawClient.ConnectAsync(pair);
        ulong before = pair.Primary.Lsn;
        history.InvokeWrite("k", 2); // never completes in this history: Unknown
        Task<(WireStatus, string)> held = raw.WriteAsync(pair.Primary.Epoch, "k", "2");

        // Past k=1's LSN: both nodes stand at it before the primary has taken the write (a CI run on busy cores read
        // the secondary that early, and found k=1 there and then at the primary).
        await Waits.UntilAsync(() => pair.Primary.Lsn > before && pair.Secondary.Lsn >= pair.Primary.Lsn, "the secondary applying k=2");

        RawClient atSecondary = await RawClient.ConnectAsync(pair, pair.Secondary.EndPoint);
        long id = history.InvokeRead("k");
        (WireStatus status, byte[] slot) = await atSecondary.ReadAsync(pointer, Opcode.FailoverRead);
        Assert.Equal(WireStatus.Ok, status);
        Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(slot, "k"u8, 0, out ValidatedEntry entry));
        history.Complete(id, Outcome.Ok, long.Parse(Encoding.ASCII.GetString(entry.ValueOf(slot)), CultureInfo.InvariantCulture));

        // The primary's read starts after the secondary's completed; the ack arrives once the link is restored,
        // well inside the lease.
        Task<long?> atPrimary = reader.GetAsync("k");
        await Task.WhenAny(atPrimary, Task.Delay(TimeSpan.FromMilliseconds(100)));
        pair.Network.Restore();
        await atPrimary.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WireStatus.Ok, (await held.WaitAsync(TimeSpan.FromSeconds(10))).Item1);

        CheckReport report = LinearizabilityChecker.Check(history.Snapshot());
        Assert.True(report.IsLinearizable, report.ToText());
        Assert.Equal(2, await atPrimary);
    }
}
