using System.Text;
using System.Text.Json;
using MirrorKv.Client;

namespace MirrorKv.Cli.Demo;

/// <summary>The demo's summary as one line of JSON, field names in snake_case (documented in the README).</summary>
internal static class DemoSummaryJson
{
    public static string Write(Workload workload, int lost, double readStallMs, double writeStallMs, double rejoinMs, ClientStats stats, ulong epoch)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("operations", workload.Reads + workload.Writes);
            json.WriteNumber("reads", workload.Reads);
            json.WriteNumber("acknowledged_writes", workload.Writes);
            json.WriteNumber("writes_lost", lost);
            json.WriteNumber("bad_reads", workload.BadReads);
            json.WriteNumber("writes_failed", workload.FailedWrites);
            json.WriteNumber("reads_failed", workload.FailedReads);
            Number(json, "read_stall_ms", readStallMs);
            Number(json, "write_stall_ms", writeStallMs);
            Number(json, "rejoin_ms", rejoinMs);
            json.WriteNumber("failover_reads", stats.FailoverReads);
            json.WriteNumber("slab_deltas", stats.TranslationDeltas);
            json.WriteNumber("epoch", epoch);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Writes a figure rounded to 0.1; JSON has no NaN, so a figure never measured (a stall never observed) is null.</summary>
    internal static void Number(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value))
        {
            json.WriteNumber(name, Math.Round(value, 1));
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
