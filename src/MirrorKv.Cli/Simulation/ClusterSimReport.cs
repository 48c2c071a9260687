using System.Globalization;

namespace MirrorKv.Cli.Simulation;

/// <summary>The table <c>cluster-sim</c> prints: one figure a line, what it is, then its value.</summary>
internal static class ClusterSimReport
{
    public static void Write(ClusterSimResult r, TextWriter output)
    {
        var rows = new List<(string, string)>();
        void Row(string name, FormattableString value) => rows.Add((name, value.ToString(CultureInfo.InvariantCulture)));

        MapFigures m = r.Map;
        Row("map on the wire (CLUSTER_MAP, cluster dev)", $"{m.WireBytes:N0} B");
        Row("map in etcd (JSON)", $"{m.JsonBytes:N0} B");
        Row("one read of the prefix (a node's, when it starts)", $"{m.PrefixKeys:N0} keys, {m.PrefixReadBytes:N0} B from the JSON gateway; read + parse p50 {m.ReadMs:F1} ms on a quiet etcd");

        WatchFigures w = r.Watch;
        Row("watch fan-out", $"{w.Watchers} watchers (2 per pair), each its own connections, started {(r.Options.StartRate > 0 ? $"{r.Options.StartRate} a second" : "at once")}; all read the first map in {w.SetupSeconds:F1} s{(r.Options.Resp ? $", and knew every pair's leader in {w.LeadersFilledSeconds:F1} s" : " (no RESP: other pairs' leaders from the watch only)")}");
        Row("map propagation (CAS start -> a watcher had it)", $"p50 {w.P50Ms:F0} ms, p99 {w.P99Ms:F0} ms, max {w.MaxMs:F0} ms over {w.Changes} changes");
        Row("  until the last watcher read it", $"p50 {w.AllSeenP50Ms:F0} ms, max {w.AllSeenMaxMs:F0} ms");
        Row("per map change", $"{w.UpdatesPerChange:F0} watcher updates; etcd served {w.EtcdRangesPerChange:F0} range reads and sent {w.EtcdBytesPerChange / 1e6:F2} MB");
        Row("one pair's failover", $"{w.FailoverUpdates} watcher updates, {w.FailoverEtcdRanges:F0} range reads (leader key gone, then claimed); the last watcher had the new leader {w.FailoverAllSeenMs:F0} ms after the claim");
        Row("watch problems, unconverged", $"{w.Problems} failed reads or watches, {w.Unconverged} missed; {w.AtLastVersion} of {w.Watchers} at version {w.LastVersion}");

        LeaseFigures l = r.Leases, s = r.LeasesAndReads;
        Row("lease renewals (1 per pair per 500 ms)", $"{l.RenewalsAsked:F0}/s asked, {l.RenewalsPerSecond:F0}/s done, {l.RenewalFailuresPerSecond:F1}/s failed; p50 {l.RenewalP50Ms:F1} ms, p99 {l.RenewalP99Ms:F1} ms; raft proposals {l.ProposalsPerSecond:F1}/s");
        Row("  with in-sync reads (1 per pair per 50 ms: every peer link down)", $"{s.InSyncReadsAsked:F0}/s asked, {s.InSyncReadsPerSecond:F0}/s done (etcd ranges {s.RangesPerSecond:F0}/s); renewals {s.RenewalsPerSecond:F0}/s, p99 {s.RenewalP99Ms:F1} ms, {s.RenewalFailuresPerSecond:F1}/s failed");

        if (r.Redirect is { } d)
        {
            Row($"slot move ({d.Pairs} pairs of real nodes, {d.Keys:N0} keys)", $"{d.SlotsMoved} slots ({d.KeysMoved:N0} keys) in {d.Batches} batches, {d.MapVersions} map versions, {d.MoveSeconds:F1} s");
            Row($"  redirections reading every key ({d.Workers} callers)", $"{d.ReadRedirects} Moved, {d.ReadMapFetches} map fetches; {d.WrongValues} wrong values");
            Row("  then writing every key", $"{d.WriteRedirects} Moved, {d.WriteMapFetches} map fetches; client at version {d.ClientMapVersion} of {d.MapVersion}");
        }
        else
        {
            Row("redirections, pointer-table memory", $"{(r.NodesFailed is null ? "not run (--node-pairs 0)" : $"failed: {r.NodesFailed}")}");
        }

        if (r.Memory is { } p)
        {
            Row($"pointer table per key ({p.Keys:N0} keys)", $"cluster client {p.ClusterBytesPerKey:F1} B over {p.Pairs} pairs, one pair's client {p.PairBytesPerKey:F1} B (looked up again: {p.ClusterLookupsAgain}, {p.PairLookupsAgain})");
            Row("cluster client per pair (connected, empty)", $"{p.ClusterBytesPerPair:N0} B of managed heap");
        }

        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cluster-sim --pairs {r.Options.Pairs}: {r.Cores} cores, etcd {r.Etcd}, {r.Elapsed.TotalSeconds:F0} s"));
        int width = rows.Max(x => x.Item1.Length);
        foreach ((string name, string value) in rows)
        {
            output.WriteLine($"{name.PadRight(width)}  {value}");
        }
    }
}
