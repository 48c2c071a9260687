using System.Globalization;
using System.Text;
using System.Text.Json;
using MirrorKv.Cli.Cluster;

namespace MirrorKv.Cli.Demo;

/// <summary>What the cluster demo measured: the whole workload, the move, and each pair's keys apart; as text and as one line of JSON (snake_case, README).</summary>
internal sealed record ClusterDemoSummary(Workload Workload, int Lost, MoveStats Move, double RejoinMs, ulong MapVersion, long Redirects, long MapRefreshes, IReadOnlyList<ClusterDemoSummary.PairRow> Pairs)
{
    public void Print(Action<string> say, IReadOnlyList<string> failures)
    {
        say("");
        say("summary");
        say($"  operations            {Workload.Reads + Workload.Writes,12:N0} ({Workload.Reads:N0} reads, {Workload.Writes:N0} acknowledged writes)");
        say($"  writes lost           {Lost,12:N0} (every acknowledged write read back by a fresh cluster client: {Workload.Keys:N0} keys)");
        say($"  bad reads             {Workload.BadReads,12:N0} (torn, stale after acknowledgement, or another key's value)");
        say($"  reads failed          {Workload.FailedReads,12:N0} (an error instead of a value: none should fail because of a failover or a move)");
        say($"  writes failed         {Workload.FailedWrites,12:N0} (Unavailable: in flight at the killed primary)");
        say($"  slots moved           {Move.Slots,12:N0} ({Move.Entries:N0} entries in {Move.Batches} batches; writes of a batch fenced p50 {Move.FencedMs(0.5):F0} ms, max {Move.FencedMs(1):F0} ms)");
        say($"  redirections          {Redirects,12:N0} (Moved followed by the client; {MapRefreshes} map fetches; map version {MapVersion} at the end)");
        say($"  rejoin                {RejoinMs,12:F0} ms (restart of the killed node to caught up: slab copy and stream)");
        say("  per pair (keys by the first map): operations, and the longest time in which none of its keys was read (written), before and after the kill");
        say("    keys                              count    reads   writes  failed r/w  read gap ms    write gap ms  epoch");
        say("                                                                          before  after  before  after");
        foreach (PairRow row in Pairs)
        {
            say(string.Create(CultureInfo.InvariantCulture,
                $"    {row.Description,-32} {row.Keys,6:N0} {row.Group.Reads,8:N0} {row.Group.Writes,8:N0} {row.Group.FailedReads,6}/{row.Group.FailedWrites,-4} {row.Before.Read,7:F0} {row.After.Read,6:F0} {row.Before.Write,7:F0} {row.After.Write,6:F0}  {(row.Epoch == 0 ? "-" : row.Epoch.ToString(CultureInfo.InvariantCulture)),5}"));
        }

        say(failures.Count == 0 ? "all checks passed" : $"{failures.Count} checks failed:");
        foreach (string failure in failures)
        {
            say($"  check failed: {failure}");
        }
    }

    public string ToJson(IReadOnlyList<string> failures)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("operations", Workload.Reads + Workload.Writes);
            json.WriteNumber("reads", Workload.Reads);
            json.WriteNumber("acknowledged_writes", Workload.Writes);
            json.WriteNumber("writes_lost", Lost);
            json.WriteNumber("bad_reads", Workload.BadReads);
            json.WriteNumber("reads_failed", Workload.FailedReads);
            json.WriteNumber("writes_failed", Workload.FailedWrites);
            json.WriteNumber("slots_moved", Move.Slots);
            json.WriteNumber("entries_moved", Move.Entries);
            json.WriteNumber("move_batches", Move.Batches);
            DemoSummaryJson.Number(json, "fence_max_ms", Move.FencedMs(1));
            json.WriteNumber("redirects", Redirects);
            json.WriteNumber("map_version", MapVersion);
            DemoSummaryJson.Number(json, "rejoin_ms", RejoinMs);
            json.WriteStartArray("pairs");
            foreach (PairRow row in Pairs)
            {
                json.WriteStartObject();
                json.WriteString("keys_of", row.Group.Name);
                json.WriteNumber("keys", row.Keys);
                json.WriteNumber("reads", row.Group.Reads);
                json.WriteNumber("acknowledged_writes", row.Group.Writes);
                json.WriteNumber("reads_failed", row.Group.FailedReads);
                json.WriteNumber("writes_failed", row.Group.FailedWrites);
                json.WriteNumber("bad_reads", row.Group.BadReads);
                DemoSummaryJson.Number(json, "read_gap_before_kill_ms", row.Before.Read);
                DemoSummaryJson.Number(json, "read_gap_after_kill_ms", row.After.Read);
                DemoSummaryJson.Number(json, "write_gap_before_kill_ms", row.Before.Write);
                DemoSummaryJson.Number(json, "write_gap_after_kill_ms", row.After.Write);
                if (row.Epoch == 0)
                {
                    json.WriteNull("epoch");
                }
                else
                {
                    json.WriteNumber("epoch", row.Epoch);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartArray("failed_checks");
            foreach (string failure in failures)
            {
                json.WriteStringValue(failure);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>One group of keys: a pair's (by the first map), or the moving slots'.</summary>
    /// <param name="Group">The keys' counts and gaps.</param>
    /// <param name="Description">Whose keys they are, in words.</param>
    /// <param name="Keys">How many keys.</param>
    /// <param name="Before">The longest gaps from the workload's start to the kill.</param>
    /// <param name="After">The longest gaps from the kill to the end.</param>
    /// <param name="Epoch">The pair's epoch at the end, as its client knows it; 0 for the moving keys.</param>
    public sealed record PairRow(WorkloadGroup Group, string Description, int Keys, (double Read, double Write) Before, (double Read, double Write) After, ulong Epoch);
}
