using System.Text.Json.Nodes;
using MirrorKv.Cli.Simulation;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// The benchmark tool's <c>cluster-sim</c> (docs/scale-out.md, "Limits") at five pairs against a real etcd: its figures
/// must say what the code does, or the doc's table says nothing. Every watcher takes every change and the failover from its watch, without reading the prefix again, the
/// map's sizes are the documented encodings', the leases are renewed at the coordinator's rate without raft writes, a
/// client that sat through a real slot move follows a bounded number of redirections and reads every value, and both
/// clients keep a pointer for every key.
/// </summary>
[Collection(nameof(ProcessTests))]
public class ClusterSimulationTests
{
    private const int Pairs = 5;

    [Fact]
    public async Task Simulation_FivePairs_FiguresMatchTheCodeAndAreBounded()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync();
        var options = new ClusterSimOptions
        {
            Pairs = Pairs, Etcd = etcd.Url, Changes = 6, Seconds = 2, NodePairs = Pairs, Keys = 2000, MoveSlots = 1024, Workers = 4, MemoryKeys = 20_000,
        };
        var log = new StringWriter();
        ClusterSimResult r = await ClusterSimulation.RunAsync(options, log, TestContext.Current.CancellationToken);
        ClusterSimReport.Write(r, log);
        TestContext.Current.TestOutputHelper?.WriteLine(log.ToString());

        // The wire map by protocol.md's layout: 16-byte header, the name, per pair 2 + id + 2 members of 40, 8 per range.
        Assert.Equal(16 + "dev".Length + (Pairs * (2 + 2 + (2 * 40))) + (Pairs * 8), r.Map.WireBytes);
        Assert.Equal(WireStatus.Ok, ClusterMapMessages.TryReadReply(r.Map.Wire, out ulong version, out ClusterMap? wire, out string? error));
        Assert.True(wire is { Name: "dev", Pairs.Count: Pairs } && version == 1, error);
        Assert.All(wire!.Pairs, p => Assert.True(p.Members.Count == 2 && p.Members.All(m => m.RespEndPoint is not null)));

        // The JSON read back from etcd is the map: every pair, every slot once.
        JsonNode json = JsonNode.Parse(r.Map.Json)!;
        Assert.Equal(r.Map.JsonBytes, r.Map.Json.Length);
        Assert.Equal(Pairs, json["pairs"]!.AsArray().Count);
        Assert.Equal(HashSlot.Count, json["slots"]!.AsArray().Sum(s => s!["last"]!.GetValue<int>() - s["first"]!.GetValue<int>() + 1));
        Assert.Equal(1 + (3 * Pairs), r.Map.PrefixKeys);
        Assert.True(r.Map.PrefixReadBytes > r.Map.JsonBytes, $"a read of the prefix ({r.Map.PrefixReadBytes} B) carries the map ({r.Map.JsonBytes} B) and more");

        // Every watcher read every change and the failover; each change cost each watcher a read, and not many more.
        WatchFigures w = r.Watch;
        Assert.Equal(2 * Pairs, w.Watchers);
        Assert.Equal(0, w.Unconverged);
        Assert.Equal(1UL + (ulong)options.Changes, w.LastVersion);
        Assert.Equal(w.Watchers, w.AtLastVersion);
        Assert.InRange(w.UpdatesPerChange, w.Watchers, 3 * w.Watchers);

        // Changes come with the watch's events: no watcher reads the prefix again for them (a refresh check, a read of
        // the map key's revision every 10 s, may fall in a change's time).
        Assert.InRange(w.EtcdRangesPerChange, 0, w.Watchers / 2.0);
        Assert.InRange(w.FailoverUpdates, 2 * w.Watchers, 6 * w.Watchers);
        Assert.InRange(w.FailoverEtcdRanges, 0, w.Watchers / 2.0);
        Assert.True(w.P50Ms > 0 && w.P50Ms <= w.P99Ms && w.P99Ms <= w.MaxMs && w.MaxMs <= w.AllSeenMaxMs + 1, $"{w}");

        // A renewal per pair per 500 ms, none lost, and none of them an etcd write; the secondaries' reads come on top.
        Assert.Equal(Pairs * 2, r.Leases.RenewalsAsked);
        Assert.InRange(r.Leases.RenewalsPerSecond, 0.5 * r.Leases.RenewalsAsked, 1.2 * r.Leases.RenewalsAsked);
        Assert.Equal(0, r.Leases.RenewalFailuresPerSecond);
        Assert.True(r.Leases.ProposalsPerSecond < 1, $"lease renewals made {r.Leases.ProposalsPerSecond:F1} raft proposals/s");
        Assert.Equal(Pairs * 20, r.LeasesAndReads.InSyncReadsAsked);
        Assert.InRange(r.LeasesAndReads.InSyncReadsPerSecond, 0.3 * r.LeasesAndReads.InSyncReadsAsked, 1.2 * r.LeasesAndReads.InSyncReadsAsked);

        // After a real move the client reads every value, follows at least one redirection and at most one per caller
        // per map version, and once it has the last map writes with none.
        RedirectFigures d = r.Redirect!;
        Assert.True(d.KeysMoved > 0 && d.MapVersions == 3 * d.Batches && d.Batches >= 1, $"{d}");
        Assert.Equal(0, d.WrongValues);
        Assert.InRange(d.ReadRedirects, 1, d.Workers * d.MapVersions);
        Assert.InRange(d.ReadMapFetches, 1, d.MapVersions);
        Assert.Equal(0, d.WriteRedirects);
        Assert.Equal(d.MapVersion, d.ClientMapVersion);

        // A pointer kept for every key, at a table slot's size or more, and not absurdly more.
        MemoryFigures m = r.Memory!;
        Assert.Equal(0, m.ClusterLookupsAgain);
        Assert.Equal(0, m.PairLookupsAgain);
        Assert.InRange(m.ClusterBytesPerKey, 32, 1000);
        Assert.InRange(m.PairBytesPerKey, 32, 1000);
        Assert.True(m.ClusterBytesPerPair > 0, $"{m}");
    }
}
