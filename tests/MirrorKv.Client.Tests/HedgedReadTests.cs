using System.Diagnostics;
using System.Net;
using System.Text;
using CsCheck;
using MirrorKv.Adapter;
using MirrorKv.Client;

namespace MirrorKv.Client.Tests;

/// <summary>
/// Hedged and balanced reads: a frozen primary costs a reader about the hedge delay once, not the request
/// timeout and the promotion; and no read, whichever node answers it, returns a value older than a write that was
/// acknowledged before the read began.
/// </summary>
public class HedgedReadTests
{
    private static readonly TimeSpan Hedge = TimeSpan.FromMilliseconds(5);

    // The hedging readers of the model test: the primary's replies to this address alone are held back at times.
    private static readonly IPAddress ReaderAddress = IPAddress.Parse("127.0.0.21");

    [Fact]
    public async Task FrozenPrimary_HedgedReads_StallAboutTheHedgeDelay()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        await using MirrorKvClient client = await ConnectAsync(pair, ReadFrom.PreferPrimary, Hedge);
        await WriteAndWarmAsync(client, 20);

        pair.Network.Freeze(PairFixture.PrimaryAddress);
        try
        {
            TimeSpan worst = TimeSpan.Zero;
            for (int i = 0; i < 20; i++)
            {
                long start = Stopwatch.GetTimestamp();
                Assert.Equal(Value(i), await client.GetAsync($"k{i}"));
                worst = Max(worst, Stopwatch.GetElapsedTime(start));
            }

            // 5 ms of hedge delay plus a loaded machine's scheduling; without hedging each read waits the 2 s
            // request timeout (the control test below).
            Assert.True(worst < TimeSpan.FromMilliseconds(400), $"a read on a frozen primary took {worst.TotalMilliseconds:F0} ms");

            // Only the first read waited for the hedge delay: the primary, silent since, is suspect, and the
            // reads after it start at the secondary (FAILOVER_READ) instead of waiting the delay each.
            Assert.True(client.Stats.FailoverReads >= 20, $"reads answered by the secondary: {client.Stats}");
            Assert.True(client.Stats.HedgedReads is >= 1 and <= 2, $"reads that waited for the hedge delay: {client.Stats}");
        }
        finally
        {
            pair.Network.Thaw(PairFixture.PrimaryAddress);
        }
    }

    /// <summary>
    /// A reader's pointer went stale before the freeze (another client rewrote the key larger, into another slot, and
    /// the old slot holds a tombstone on both nodes). The secondary's tombstone says so as surely as the primary's
    /// would: the reader looks the key up at the secondary at once, rather than wait for the frozen primary's verdict
    /// until the request timeout (0.5 to 0.9 s of reads lost per freeze in `bench --freeze`, one cycle in ten).
    /// </summary>
    [Fact]
    public async Task FrozenPrimary_StalePointer_IsLookedUpAtTheSecondary_NotWaitedOn()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        await using MirrorKvClient reader = await ConnectAsync(pair, ReadFrom.PreferPrimary, Hedge);
        await using MirrorKvClient writer = await ConnectAsync(pair, ReadFrom.Primary, null, IPAddress.Parse("127.0.0.22"));
        await WriteAndWarmAsync(reader, 20);
        byte[] larger = Encoding.UTF8.GetBytes(new string('x', 600));
        for (int i = 0; i < 20; i++)
        {
            await writer.SetAsync($"k{i}", larger);
        }

        pair.Network.Freeze(PairFixture.PrimaryAddress);
        try
        {
            TimeSpan worst = TimeSpan.Zero;
            for (int i = 0; i < 20; i++)
            {
                long start = Stopwatch.GetTimestamp();
                Assert.Equal(larger, await reader.GetAsync($"k{i}"));
                worst = Max(worst, Stopwatch.GetElapsedTime(start));
            }

            // The request timeout is 2 s: a read that waited for the frozen primary would take it.
            Assert.True(worst < TimeSpan.FromMilliseconds(400), $"a read of a stale pointer on a frozen primary took {worst.TotalMilliseconds:F0} ms");
            Assert.True(reader.Stats.Lookups >= 20, $"every stale pointer looked up again: {reader.Stats}");
        }
        finally
        {
            pair.Network.Thaw(PairFixture.PrimaryAddress);
        }
    }

    [Fact]
    public async Task FrozenPrimary_ReadFromPrimary_WaitsForTheRequestTimeout()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        await using MirrorKvClient client = await ConnectAsync(pair, ReadFrom.Primary, Hedge);
        await WriteAndWarmAsync(client, 1);

        pair.Network.Freeze(PairFixture.PrimaryAddress);
        try
        {
            long start = Stopwatch.GetTimestamp();
            Assert.Equal(Value(0), await client.GetAsync("k0"));
            Assert.True(Stopwatch.GetElapsedTime(start) > TimeSpan.FromMilliseconds(500), "the control read was not held up by the frozen primary");
            Assert.Equal(0, client.Stats.HedgedReads);
        }
        finally
        {
            pair.Network.Thaw(PairFixture.PrimaryAddress);
        }
    }

    /// <summary>
    /// The model: each key has one writer, whose values count up; a write acknowledged with value n sets the
    /// key's floor to n. A read takes the floor before it starts and must return a value of at least the floor.
    /// Readers hedge every read that the primary has not answered within a tick (at the timer's first chance,
    /// about 1 ms) or balance over both nodes, while a second writer changes other keys concurrently; values
    /// vary in size so that entries relocate (new pointers, old slots tombstoned). The primary's replies to the
    /// readers are held back for a third of the reads (a cut of that direction only: they arrive late, in order,
    /// as from a slow primary), so that the secondary answers hedges while the primary lives and acknowledges
    /// writes.
    /// </summary>
    [Fact]
    public async Task HedgedAndBalancedReads_NeverReturnAValueOlderThanAnAcknowledgedWrite()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        await using MirrorKvClient writer = await ConnectAsync(pair, ReadFrom.Primary, null);
        await using MirrorKvClient background = await ConnectAsync(pair, ReadFrom.Primary, null);
        await using MirrorKvClient hedged = await ConnectAsync(pair, ReadFrom.PreferPrimary, TimeSpan.FromTicks(1), ReaderAddress);
        await using MirrorKvClient balanced = await ConnectAsync(pair, ReadFrom.Balanced, TimeSpan.FromTicks(1), ReaderAddress);
        const int Keys = 8;
        var floors = new long[Keys];
        var counter = 0L;

        using var stop = new CancellationTokenSource();
        Task backgroundWrites = Task.Run(async () =>
        {
            var random = new Random(7);
            while (!stop.IsCancellationRequested)
            {
                await WriteAsync(background, floors, 4 + random.Next(4), Interlocked.Increment(ref counter), random);
            }
        });

        try
        {
            await Gen.Int[0, int.MaxValue].SampleAsync(async seed =>
            {
                var random = new Random(seed);
                for (int step = 0; step < 150; step++)
                {
                    if (random.Next(3) == 0)
                    {
                        await WriteAsync(writer, floors, random.Next(4), Interlocked.Increment(ref counter), random);
                    }

                    int key = random.Next(Keys);
                    MirrorKvClient reader = random.Next(2) == 0 ? hedged : balanced;
                    long floor = Volatile.Read(ref floors[key]);

                    // A third of the reads meet a slow primary: its replies to the readers are held until the
                    // read completes or 10 ms have passed (then released, late and in order), so that the
                    // secondary answers the hedge while the primary lives and acknowledges the writers; a read
                    // that needs a LOOKUP (not hedged) is only delayed. Cut here, in the read's own step, rather
                    // than by a timer task, so that a loaded machine cannot starve the cuts away.
                    bool slow = random.Next(3) == 0;
                    if (slow)
                    {
                        pair.Network.Cut(PairFixture.PrimaryAddress, ReaderAddress);
                    }

                    Task<byte[]?> pending = reader.GetAsync($"m{key}").AsTask();
                    if (slow)
                    {
                        await Task.WhenAny(pending, Task.Delay(10));
                        pair.Network.Restore(PairFixture.PrimaryAddress, ReaderAddress);
                    }

                    byte[]? read = await pending;
                    long got = read is null ? 0 : long.Parse(Encoding.UTF8.GetString(read).Split(':')[0]);
                    Assert.True(got >= floor, $"{(reader == hedged ? "hedged" : "balanced")} read of m{key} returned {got}, older than the acknowledged {floor}");
                }
            }, iter: 8, threads: 1);
        }
        finally
        {
            await stop.CancelAsync();
            await backgroundWrites;
            pair.Network.Restore();
        }

        // The secondary answered reads while the primary lived: balanced reads start there every other time,
        // and hedges won while the primary's replies were held.
        Assert.True(balanced.Stats.FailoverReads > 0, $"the secondary was never asked: hedged {hedged.Stats}, balanced {balanced.Stats}");
        Assert.True(hedged.Stats.HedgeWins > 0, $"no hedge was answered by the secondary: hedged {hedged.Stats}, balanced {balanced.Stats}");
    }

    [Fact]
    public async Task SecondaryRestarted_WithNoWrites_IsConnectedAgainByTheWarmStandbyPath()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        await using MirrorKvClient client = await ConnectAsync(pair, ReadFrom.PreferPrimary, Hedge);
        await client.GetSecondaryStatusAsync();

        pair.Network.Crash(PairFixture.SecondaryAddress);
        await Waits.UntilAsync(() => !pair.Primary.DescribeStatus().Protected);
        await using MirrorKvNode restarted = await PairFixture.StartSecondaryAsync(pair.Network, PairFixture.SecondaryAddress, pair.Primary.EndPoint);

        // No write names the secondary to the client: only its own retries can bring the connection back.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await SecondaryAnswersAsync(client) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.True(await SecondaryAnswersAsync(client), "the client never connected to the restarted secondary");
    }

    private static async Task<bool> SecondaryAnswersAsync(MirrorKvClient client)
    {
        try
        {
            await client.GetSecondaryStatusAsync();
            return true;
        }
        catch (MirrorKvException)
        {
            return false;
        }
    }

    private static async Task WriteAsync(MirrorKvClient client, long[] floors, int key, long value, Random random)
    {
        await client.SetAsync($"m{key}", Encoding.UTF8.GetBytes($"{value}:" + new string('x', random.Next(4) switch { 0 => 0, 1 => 40, 2 => 300, _ => 900 })));

        // One writer per key: its values count up, so the floor only rises.
        Volatile.Write(ref floors[key], value);
    }

    private static async Task WriteAndWarmAsync(MirrorKvClient client, int count)
    {
        for (int i = 0; i < count; i++)
        {
            await client.SetAsync($"k{i}", Value(i));
            Assert.Equal(Value(i), await client.GetAsync($"k{i}"));
        }
    }

    private static byte[] Value(int i) => Encoding.UTF8.GetBytes($"value-{i}");

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static async Task<MirrorKvClient> ConnectAsync(PairFixture pair, ReadFrom readFrom, TimeSpan? hedgeDelay, IPAddress? address = null)
    {
        MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions
        {
            EndPoints = [pair.Primary.EndPoint],
            Transport = pair.Network.CreateTransport(address ?? PairFixture.ClientAddress),
            RequestTimeout = TimeSpan.FromSeconds(2),
            ReadFrom = readFrom,
            HedgeDelay = hedgeDelay,
        });
        Assert.True(await client.WaitForSecondaryAsync());
        return client;
    }
}
