using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using MirrorKv.Client;
using MirrorKv.Entries;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// A real pair: two <c>mirrorkv serve</c> processes on 127.0.0.1, clients over TCP, and a real kill -9.
/// </summary>
[Collection(nameof(ProcessTests))]
public class PairProcessTests
{
    [Fact]
    public async Task Write_ThenRead_SecondaryHoldsSameBytesAtTranslatedAddressNotPrimarys()
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await using MirrorKvClient client = await ConnectAsync(primary);
        var values = new Dictionary<string, byte[]>();
        for (int i = 0; i < 400; i++)
        {
            // Several size classes, so that several primary slabs (and so several deltas) are in play.
            values[$"key-{i}"] = Value(i, 0, 20 + (i * 97 % 4000));
            await client.SetAsync($"key-{i}", values[$"key-{i}"]);
        }

        NodeChannel p = await Channel(primary);
        NodeChannel s = await Channel(secondary);
        TranslationSnapshot translation = await FetchTranslationAsync(s, p);
        Assert.True(translation.CountDistinctDeltas() >= 2, "the pair must run with at least two distinct slab deltas");
        foreach ((string key, byte[] value) in values)
        {
            RemotePointer pointer = await LookupAsync(p, key);
            byte[] atPrimary = await ReadAsync(p, Opcode.Read, pointer);
            RemotePointer local = translation.Translate(pointer);
            Assert.NotEqual(pointer.Address, local.Address);
            byte[] atSecondary = await ReadAsync(s, Opcode.Read, local);
            Assert.Equal(atPrimary, atSecondary);
            Assert.Equal(value, ValueOf(atSecondary, key));
            Assert.Equal(atPrimary, await ReadAsync(s, Opcode.FailoverRead, pointer));

            // Skipping translation must not work: the primary's pointer names nothing on the secondary,
            // and its address under the secondary's rkey is outside the secondary's region or another entry.
            Assert.Null(await TryReadAsync(s, Opcode.Read, pointer));
            foreach (RegionInfo region in s.Hello.Regions)
            {
                byte[]? untranslated = await TryReadAsync(s, Opcode.Read, pointer with { RKey = region.RKey });
                Assert.True(untranslated is null || ValueOrNull(untranslated, key) is null);
            }
        }

        await p.DisposeAsync();
        await s.DisposeAsync();
    }

    [Fact]
    public async Task UpdateInPlace_Relocation_Delete_AreServedByBothNodes()
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await using MirrorKvClient client = await ConnectAsync(primary);
        NodeChannel p = await Channel(primary);

        await client.SetAsync("k", Value(1, 0, 100));
        RemotePointer first = await LookupAsync(p, "k");
        await client.SetAsync("k", Value(1, 1, 110));
        RemotePointer inPlace = await LookupAsync(p, "k");
        await client.SetAsync("k", Value(1, 2, 3000));
        RemotePointer relocated = await LookupAsync(p, "k");
        await client.SetAsync("gone", Value(2, 0, 50));
        Assert.True(await client.DeleteAsync("gone"));

        Assert.Equal(first, inPlace);
        Assert.NotEqual(first, relocated);
        Assert.Equal(Value(1, 2, 3000), await client.GetAsync("k"));
        Assert.Null(await client.GetAsync("gone"));
        Assert.Equal(EntryStatus.Deleted, EntryValidator.Validate(await ReadAsync(p, Opcode.Read, first), "k"u8, 0, out _));

        await primary.WaitProtectedAsync();
        await primary.KillAsync();
        Assert.Equal(Value(1, 2, 3000), await client.GetAsync("k"));
        Assert.Null(await client.GetAsync("gone"));
        await p.DisposeAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task KillPrimary_DuringReadWorkload_EveryReadReturnsLatestAcknowledgedValue(bool rewriteTable)
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await using MirrorKvClient client = await ConnectAsync(primary, rewriteTable);
        const int keys = 2000;
        var latest = new byte[keys][];
        for (int i = 0; i < keys; i++)
        {
            latest[i] = Value(i, 0, 100);
            await client.SetAsync($"k{i}", latest[i]);
        }

        for (int i = 0; i < keys; i += 3)
        {
            latest[i] = Value(i, 1, i % 2 == 0 ? 100 : 900);
            await client.SetAsync($"k{i}", latest[i]);
        }

        using var stop = new CancellationTokenSource();
        var bad = new ConcurrentQueue<string>();
        long reads = 0;
        Task[] readers = Enumerable.Range(0, 4).Select(r => Task.Run(async () =>
        {
            var random = new Random(r);
            while (!stop.IsCancellationRequested)
            {
                int i = random.Next(keys);
                byte[]? got = await client.GetAsync($"k{i}");
                Interlocked.Increment(ref reads);
                if (got is null || !got.AsSpan().SequenceEqual(latest[i]))
                {
                    bad.Enqueue($"k{i}: {(got is null ? "missing" : $"{got.Length} wrong bytes")}");
                }
            }
        })).ToArray();

        await Task.Delay(300);
        await primary.WaitProtectedAsync();
        long beforeKill = Interlocked.Read(ref reads);
        await primary.KillAsync();
        await Task.Delay(1000);
        await stop.CancelAsync();
        await Task.WhenAll(readers);

        Assert.Empty(bad);
        Assert.True(beforeKill > 0);
        Assert.True(Interlocked.Read(ref reads) > beforeKill + 100, "reads must go on after the kill");
        Assert.NotEqual(ClientPath.Primary, client.Path);
        if (rewriteTable)
        {
            Assert.Equal(ClientPath.Secondary, client.Path);
            Assert.True(client.Stats.RewrittenPointers > 0);
        }
        else
        {
            Assert.True(client.Stats.FailoverReads > 0);
        }

        for (int i = 0; i < keys; i++)
        {
            Assert.Equal(latest[i], await client.GetAsync($"k{i}"));
        }
    }

    [Fact]
    public async Task KillPrimary_SecondaryIsPromotedAndTakesWrites_EveryAcknowledgedWriteSurvives()
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await using MirrorKvClient client = await ConnectAsync(primary);
        var acknowledged = new Dictionary<string, byte[]>();
        using var stop = new CancellationTokenSource();
        Task writer = Task.Run(async () =>
        {
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                byte[] value = Value(i % 500, i, 64 + (i % 3 * 400));
                await client.SetAsync($"w{i % 500}", value);
                lock (acknowledged)
                {
                    acknowledged[$"w{i % 500}"] = value;
                }
            }
        });

        await Task.Delay(500);
        await primary.WaitProtectedAsync();
        await primary.KillAsync();
        await Task.Delay(1000);
        await stop.CancelAsync();
        await writer;

        Assert.Equal(1, client.PromotionsFollowed);
        Assert.Equal(secondary.EndPoint, client.PrimaryEndPoint);
        Assert.Equal(2UL, client.Epoch);
        foreach ((string key, byte[] value) in acknowledged)
        {
            Assert.Equal(value, await client.GetAsync(key));
        }

        NodeChannel promoted = await Channel(secondary);
        Assert.Equal((NodeRole.Primary, 2UL), (promoted.Hello.Role, promoted.Hello.Epoch));
        await promoted.DisposeAsync();
    }

    [Fact]
    public async Task KilledPrimary_RestartedAsPrimaryWithPeer_JoinsTheNewPrimaryAsSecondary()
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await primary.WaitProtectedAsync();
        await primary.KillAsync();
        for (int i = 0; i < 100 && (await MirrorKvAdmin.GetStatusAsync(secondary.EndPoint)).Role != NodeRole.Primary; i++)
        {
            await Task.Delay(20);
        }

        await using NodeProcess restarted = await NodeProcess.StartPrimaryAsync("--peer", secondary.EndPoint.ToString());
        Assert.Contains("the pair already has a primary", restarted.Output, StringComparison.Ordinal);
        await secondary.WaitProtectedAsync();
        NodeStatus status = await MirrorKvAdmin.GetStatusAsync(restarted.EndPoint);
        Assert.Equal((NodeRole.Secondary, 2UL, true), (status.Role, status.Epoch, status.Protected));
    }

    [Fact]
    public async Task RestartedAsPrimaryWithPeer_WhileThePeerIsPaused_WaitsForIt_ThenJoinsIt_NotASecondPrimary()
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await primary.WaitProtectedAsync();
        await secondary.KillAsync();
        for (int i = 0; i < 100 && (await MirrorKvAdmin.GetStatusAsync(primary.EndPoint)).Protected; i++)
        {
            await Task.Delay(20);
        }

        // The primary alone stands still (a pause: its kernel still accepts connections) as the lost node comes back
        // asking it: no answer is not "gone", so the returning node waits rather than start as a second primary.
        await primary.PauseAsync();
        Task<NodeProcess> restarting = NodeProcess.StartAsync(["--role", "primary", "--peer", primary.EndPoint.ToString()], listen: secondary.EndPoint);
        await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
        Assert.False(restarting.IsCompleted, "the returning node started while its peer could not say whether it is primary");
        await primary.ResumeAsync();

        await using NodeProcess restarted = await restarting;
        Assert.Contains("does not answer but is not gone", restarted.Output, StringComparison.Ordinal);
        Assert.Contains("the pair already has a primary", restarted.Output, StringComparison.Ordinal);
        await primary.WaitProtectedAsync();
        NodeStatus status = await MirrorKvAdmin.GetStatusAsync(restarted.EndPoint);
        Assert.Equal((NodeRole.Secondary, true), (status.Role, status.Protected));
        Assert.Equal(NodeRole.Primary, (await MirrorKvAdmin.GetStatusAsync(primary.EndPoint)).Role);
    }

    [Fact]
    public async Task TwoNodesStartedAsPrimaryAtOnce_EachWithTheOtherAsPeer_EndAsOnePair()
    {
        // A symmetric start after a power loss: each asks the other before either serves, finds nothing, and starts as
        // primary. The one with the lower endpoint moves above the other's epoch and tells it; it rejoins as secondary.
        System.Net.IPEndPoint a = Ports.FreeEndPoint(), b = Ports.FreeEndPoint();
        Task<NodeProcess> startA = NodeProcess.StartAsync(["--role", "primary", "--peer", b.ToString()], listen: a);
        Task<NodeProcess> startB = NodeProcess.StartAsync(["--role", "primary", "--peer", a.ToString()], listen: b);
        await using NodeProcess nodeA = await startA;
        await using NodeProcess nodeB = await startB;
        (NodeProcess first, NodeProcess second) = string.CompareOrdinal(a.ToString(), b.ToString()) < 0 ? (nodeA, nodeB) : (nodeB, nodeA);

        // The second node's endpoint closes for a moment between its incarnations (fenced, then rejoining).
        async Task<bool> IsSecondary(NodeProcess node)
        {
            try
            {
                return (await MirrorKvAdmin.GetStatusAsync(node.EndPoint)).Role == NodeRole.Secondary;
            }
            catch (MirrorKvException)
            {
                return false;
            }
        }

        await Waits.UntilAsync(() => IsSecondary(second), $"{second.EndPoint} to serve as the secondary of {first.EndPoint}", 30, context: () => $"first:\n{first.Output}\nsecond:\n{second.Output}");
        await first.WaitProtectedAsync();
        NodeStatus primary = await MirrorKvAdmin.GetStatusAsync(first.EndPoint);
        Assert.Equal(NodeRole.Primary, primary.Role);
        Assert.Equal(primary.Epoch, (await MirrorKvAdmin.GetStatusAsync(second.EndPoint)).Epoch);

        // And it stays one pair: no duel of epochs.
        await Task.Delay(TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken);
        Assert.Equal((NodeRole.Primary, primary.Epoch), ((await MirrorKvAdmin.GetStatusAsync(first.EndPoint)).Role, (await MirrorKvAdmin.GetStatusAsync(first.EndPoint)).Epoch));
        Assert.Equal(NodeRole.Secondary, (await MirrorKvAdmin.GetStatusAsync(second.EndPoint)).Role);
    }

    [Fact]
    public async Task StatusCommand_GivenTwoServingPrimaries_SaysSo()
    {
        await using NodeProcess one = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess other = await NodeProcess.StartPrimaryAsync();
        (int exitCode, string output) = await DemoTests.RunCliAsync("status", one.EndPoint.ToString(), other.EndPoint.ToString());
        Assert.True(exitCode == 0, output);
        Assert.Contains($"warning: 2 nodes serve as primary ({one.EndPoint} at epoch 1, {other.EndPoint} at epoch 1)", output, StringComparison.Ordinal);

        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(one.EndPoint);
        (exitCode, output) = await DemoTests.RunCliAsync("status", one.EndPoint.ToString(), secondary.EndPoint.ToString());
        Assert.True(exitCode == 0, output);
        Assert.DoesNotContain("warning", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StatusCommand_ShowsRolesEpochsLsnsAndProtection()
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await using (MirrorKvClient client = await ConnectAsync(primary))
        {
            for (int i = 0; i < 25; i++)
            {
                await client.SetAsync($"s{i}", Value(i, 0, 50));
            }
        }

        await primary.WaitProtectedAsync();
        (int exitCode, string output) = await DemoTests.RunCliAsync("status", primary.EndPoint.ToString(), secondary.EndPoint.ToString());
        Assert.True(exitCode == 0, output);
        // 25 keys; the LSN counts their 25 slot records and a region record for each chunk registered as the primary filled.
        Match line = Regex.Match(output, $@"{Regex.Escape(primary.EndPoint.ToString())} +primary +1 +(\d+) +0 +25 +yes");
        Assert.True(line.Success, output);
        Assert.InRange(int.Parse(line.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 25, 35);
        Assert.Matches($@"{Regex.Escape(secondary.EndPoint.ToString())} +secondary +1 +{line.Groups[1].Value} +0 +25 +yes", output);

        await primary.KillAsync();
        (exitCode, output) = await DemoTests.RunCliAsync("status", primary.EndPoint.ToString(), secondary.EndPoint.ToString());
        Assert.Equal(1, exitCode);
        Assert.Contains("unreachable", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_BadArguments_ExitWithClearError()
    {
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => NodeProcess.StartSecondaryAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 1), "--slab-size", "1000"));
        Assert.Contains("SlabSize must be a power of two", failure.Message, StringComparison.Ordinal);
        failure = await Assert.ThrowsAsync<InvalidOperationException>(() => NodeProcess.StartPrimaryAsync("--event-loops", "-2"));
        Assert.Contains("--event-loops (Node:EventLoops): must be between 0 and 256; got -2", failure.Message, StringComparison.Ordinal);
        failure = await Assert.ThrowsAsync<InvalidOperationException>(() => NodeProcess.StartPrimaryAsync("--spin-microseconds", "5000000"));
        Assert.Contains("--spin-microseconds (Node:SpinMicroseconds): must be between 0 and 1000000; got 5000000", failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0", "0")]
    [InlineData("1", "200")]
    public async Task Serve_EitherSocketBackend_ServesAPairThroughAFailover(string eventLoops, string spin)
    {
        // 0 loops: the runtime's socket engine; 1: our epoll loop, spinning while primary.
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync("--event-loops", eventLoops, "--spin-microseconds", spin);
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint, "--event-loops", eventLoops, "--spin-microseconds", spin);
        await using MirrorKvClient client = await ConnectAsync(primary);
        var values = new Dictionary<string, byte[]>();
        for (int i = 0; i < 200; i++)
        {
            values[$"b{i}"] = Value(i, 1, 300);
            await client.SetAsync($"b{i}", values[$"b{i}"]);
        }

        Assert.Equal(values.Values, await client.GetManyAsync([.. values.Keys]));
        await primary.WaitProtectedAsync();
        await primary.KillAsync();
        Assert.Equal(values.Values, await client.GetManyAsync([.. values.Keys]));
        await client.SetAsync("after", Value(1, 2, 10));
        Assert.Equal(Value(1, 2, 10), await client.GetAsync("after"));
    }

    private static byte[] Value(int key, int generation, int length)
    {
        var value = new byte[length];
        new Random((key * 7919) + generation).NextBytes(value);
        BitConverter.TryWriteBytes(value, key);
        return value;
    }

    private static async Task<MirrorKvClient> ConnectAsync(NodeProcess primary, bool rewriteTable = true)
    {
        MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint], RewriteTableOnFailover = rewriteTable });
        Assert.True(await client.WaitForSecondaryAsync(), "the client must learn and reach the secondary");
        return client;
    }

    private static Task<NodeChannel> Channel(NodeProcess node) =>
        NodeChannel.ConnectAsync(new TcpTransport(), node.EndPoint, new NodeChannelOptions(null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5)), _ => { }, CancellationToken.None);

    private static async Task<RemotePointer> LookupAsync(NodeChannel channel, string key)
    {
        PendingOperation op = channel.Rent();
        try
        {
            channel.PostKv(op, Opcode.Lookup, 0, default, Encoding.UTF8.GetBytes(key), default, flush: true);
            await op.AsValueTask();
            Assert.Equal(WireStatus.Ok, op.Status);
            Assert.Equal(WireStatus.Ok, KvReply.TryRead(op.Payload, out KvReply reply));
            return reply.Pointer;
        }
        finally
        {
            channel.Return(op);
        }
    }

    private static async Task<byte[]> ReadAsync(NodeChannel channel, Opcode opcode, RemotePointer pointer) =>
        await TryReadAsync(channel, opcode, pointer) ?? throw new InvalidOperationException($"{opcode} of {pointer} was refused");

    private static async Task<byte[]?> TryReadAsync(NodeChannel channel, Opcode opcode, RemotePointer pointer)
    {
        PendingOperation op = channel.Rent();
        try
        {
            channel.PostRead(op, opcode, pointer, flush: true);
            await op.AsValueTask();
            return op.Status == WireStatus.Ok ? op.Payload.ToArray() : null;
        }
        finally
        {
            channel.Return(op);
        }
    }

    // One TRANSLATION per region the primary's HELLO listed (its chunks, each with its rkey), into one table.
    private static async Task<TranslationSnapshot> FetchTranslationAsync(NodeChannel secondary, NodeChannel primary)
    {
        var table = new TranslationTable((int)primary.Hello.SlabSize);
        foreach (RegionInfo region in primary.Hello.Regions)
        {
            await FetchTranslationAsync(secondary, region, table);
        }

        return table.Current;
    }

    private static async Task FetchTranslationAsync(NodeChannel secondary, RegionInfo primaryRegion, TranslationTable table)
    {
        uint primaryRKey = primaryRegion.RKey;
        PendingOperation op = secondary.Rent();
        try
        {
            secondary.PostTranslation(op, primaryRKey);
            await op.AsValueTask();
            Assert.Equal(WireStatus.Ok, op.Status);
            Assert.Equal(WireStatus.Ok, TranslationMessages.TryReadReply(op.Payload, out uint localRKey, out _, out SlabMapping[] mappings));
            table.MapRegion(primaryRKey, primaryRegion.BaseAddress, primaryRegion.Length, localRKey);
            foreach (SlabMapping m in mappings)
            {
                table.MapSlab(primaryRKey, m.PrimarySlabBase, m.LocalSlabBase);
            }
        }
        finally
        {
            secondary.Return(op);
        }
    }

    private static byte[] ValueOf(byte[] slot, string key) => ValueOrNull(slot, key) ?? throw new InvalidOperationException($"slot does not hold a valid entry of {key}");

    private static byte[]? ValueOrNull(byte[] slot, string key) =>
        EntryValidator.Validate(slot, Encoding.UTF8.GetBytes(key), 0, out ValidatedEntry entry) == EntryStatus.Ok ? entry.ValueOf(slot).ToArray() : null;
}

/// <summary>Process tests share the machine's two cores: they run one at a time.</summary>
[CollectionDefinition(nameof(ProcessTests), DisableParallelization = true)]
public sealed class ProcessTests;
