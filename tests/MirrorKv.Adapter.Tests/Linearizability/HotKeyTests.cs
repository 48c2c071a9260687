using System.Globalization;
using System.Text;
using MirrorKv.Client;
using MirrorKv.Entries;
using MirrorKv.Linearizability;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Store;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// A key written faster than the secondary's acks come back: its slot on the primary is unpublished nearly all the
/// time, so one-sided READs keep finding an odd version, and a LOOKUP that waits for publication hands out a pointer
/// that the next write makes unpublished again before the READ arrives. Every read must still get an answer (the
/// client's fallback is GET, which answers with the value once it is published), and the history of the key,
/// FAILOVER_READs served by the secondary included (issue 20 point 2), must be linearizable.
/// </summary>
public class HotKeyTests
{
    private const string Key = "hot";

    [Fact]
    public async Task HotKey_WrittenFasterThanItsAcksReturn_EveryReadIsAnsweredAndTheHistoryIsLinearizable()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        var history = new HistoryRecorder();
        var writers = new RecordedClient[6];
        var readers = new RecordedClient[3];
        for (int i = 0; i < writers.Length; i++)
        {
            writers[i] = new RecordedClient(await pair.ConnectClientAsync(requestTimeout: TimeSpan.FromSeconds(5)), history);
        }

        for (int i = 0; i < readers.Length; i++)
        {
            readers[i] = new RecordedClient(await pair.ConnectClientAsync(requestTimeout: TimeSpan.FromSeconds(5)), history);
        }

        // Seven digits per value, so that every write updates the slot in place: one pointer for the whole run.
        await writers[0].SetAsync(Key, 1_000_000);
        Assert.True(pair.Primary.Store.TryLookup(Encoding.ASCII.GetBytes(Key), out RemotePointer pointer, out _));
        using var stop = new CancellationTokenSource();
        // Every frame takes 5 ms: a write is unpublished for the 10 ms of its replication round trip, and six
        // writers, each starting its next write as the last is acknowledged, write the key every ~3.5 ms, so its slot
        // is unpublished nearly always, and a READ sent after a LOOKUP's answer arrives after a newer write.
        pair.Network.Delay = TimeSpan.FromMilliseconds(5);

        Task[] writing = new Task[writers.Length];
        for (int w = 0; w < writers.Length; w++)
        {
            RecordedClient writer = writers[w];
            long first = (w + 1) * 1_000_000L;
            writing[w] = Task.Run(async () =>
            {
                for (long i = 1; !stop.IsCancellationRequested && i < 999_999; i++)
                {
                    await writer.SetAsync(Key, first + i);
                }
            });
        }

        const int ReadsEach = 40;
        Task[] reading = new Task[readers.Length + 1];
        for (int r = 0; r < readers.Length; r++)
        {
            RecordedClient reader = readers[r];
            reading[r] = Task.Run(async () =>
            {
                for (int i = 0; i < ReadsEach; i++)
                {
                    // A read that gives up throws ReadFailed, which fails the test.
                    Assert.NotNull(await reader.GetAsync(Key));
                }
            });
        }

        int secondaryReads = 0;
        RawClient atSecondary = await RawClient.ConnectAsync(pair, pair.Secondary.EndPoint);
        reading[readers.Length] = Task.Run(async () =>
        {
            for (int i = 0; i < ReadsEach; i++)
            {
                secondaryReads += await FailoverReadAsync(atSecondary, pointer, history) ? 1 : 0;
            }
        });

        try
        {
            await Task.WhenAll(reading).WaitAsync(TimeSpan.FromSeconds(120));
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAll(writing).WaitAsync(TimeSpan.FromSeconds(30));
            pair.Network.Delay = TimeSpan.Zero;
        }

        Operation[] ops = history.Snapshot();
        int reads = ops.Count(op => op.Kind == OperationKind.Read && op.Outcome == Outcome.Ok);
        Assert.Equal(readers.Length * ReadsEach + secondaryReads, reads);
        Assert.True(secondaryReads > 0, "no FAILOVER_READ at the secondary passed the entry checks");

        // The run made the readers fall back: a read that never met an unpublished slot proves nothing here.
        long fallbacks = readers.Sum(r => r.Client.Stats.Lookups);
        Assert.True(fallbacks > 0, "no reader fell back to the node: the key was not hot");
        CheckReport report = LinearizabilityChecker.Check(ops, _ => null);
        Assert.True(report.IsLinearizable, report.ToText());
    }

    // A FAILOVER_READ with the primary's pointer, recorded; false (and Fail in the history) when the copy raced an apply.
    private static async Task<bool> FailoverReadAsync(RawClient secondary, RemotePointer pointer, HistoryRecorder history)
    {
        long id = history.InvokeRead(Key);
        (WireStatus status, byte[] slot) = await secondary.ReadAsync(pointer, Opcode.FailoverRead);
        if (status != WireStatus.Ok || EntryValidator.Validate(slot, Encoding.ASCII.GetBytes(Key), 0, out ValidatedEntry entry) != EntryStatus.Ok)
        {
            history.Complete(id, Outcome.Fail);
            return false;
        }

        history.Complete(id, Outcome.Ok, long.Parse(Encoding.ASCII.GetString(entry.ValueOf(slot)), CultureInfo.InvariantCulture));
        return true;
    }
}
