using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace MirrorKv.Client;

/// <summary>
/// The names under which MirrorKv reports: one <see cref="Meter"/> and one <see cref="ActivitySource"/>, both
/// called <c>MirrorKv</c> (client and server instruments share the meter name, so one
/// <c>dotnet-counters monitor --counters MirrorKv</c> or one OpenTelemetry <c>AddMeter("MirrorKv")</c>
/// covers both). Instrument names follow OpenTelemetry's database-client conventions where they apply
/// (<c>db.client.operation.duration</c> with <c>db.system.name</c>, <c>db.operation.name</c>,
/// <c>server.address</c>, <c>server.port</c>, <c>error.type</c>).
/// </summary>
public static class MirrorKvTelemetry
{
    /// <summary>The meter and activity source name.</summary>
    public const string Name = "MirrorKv";

    /// <summary>The value of <c>db.system.name</c>.</summary>
    public const string SystemName = "mirrorkv";

    internal static readonly ActivitySource Source = new(Name);

    internal static readonly Meter Meter = new(Name);

    // Buckets from 10 µs to 10 s: one-sided reads take tens of microseconds, failovers hundreds of milliseconds,
    // and an operation that waits out a promotion or its deadline seconds (OpenTelemetry's database conventions
    // advise buckets up to 10 s, so that those land in a bucket of their own rather than in +Inf).
    internal static readonly Histogram<double> OperationDuration = Meter.CreateHistogram<double>(
        "db.client.operation.duration", "s", "Duration of MirrorKv client operations, failover included.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });

    internal static readonly Counter<long> ConnectAttempts = Meter.CreateCounter<long>("mirrorkv.client.connect_attempts", "{attempt}", "Rounds of asking every known endpoint who the primary is, at connect and after a primary failed; error.type says why a round found none (no_answer, no_primary, AuthenticationFailed).");

    internal static readonly ObservableGauge<int> Connected = Meter.CreateObservableGauge("mirrorkv.client.connected", ConnectionHealth.ObserveConnected, "{client}", "1 while a client (or a cache, before its client could connect) has a primary to write to, 0 otherwise; tagged with its configured endpoints.");

    internal static readonly ObservableGauge<double> TimeSinceLastSuccess = Meter.CreateObservableGauge("mirrorkv.client.time_since_last_success", ConnectionHealth.ObserveTimeSinceLastSuccess, "s", "Seconds since the client last had a primary to write to (0 while it has one).");

    internal static readonly Counter<long> ProtectedAgain = Meter.CreateCounter<long>("mirrorkv.client.protected_again", "{event}", "Times the client saw its pair protected again (a secondary in sync) after a failover.");

    internal static readonly Counter<long> Reads = Meter.CreateCounter<long>("mirrorkv.client.reads", "{read}", "One-sided READs sent to the node that serves reads.");

    internal static readonly Counter<long> FailoverReads = Meter.CreateCounter<long>("mirrorkv.client.failover_reads", "{read}", "FAILOVER_READs: reads with primary pointers, translated by the secondary.");

    internal static readonly Counter<long> HedgedReads = Meter.CreateCounter<long>("mirrorkv.client.hedged_reads", "{read}", "READs sent to the other node too because the first had not answered within the hedge delay (or refused).");

    internal static readonly Counter<long> HedgeWins = Meter.CreateCounter<long>("mirrorkv.client.hedge_wins", "{read}", "Hedged READs answered first by the other node.");

    internal static readonly Counter<long> Lookups = Meter.CreateCounter<long>("mirrorkv.client.lookups", "{lookup}", "Two-sided LOOKUPs for keys with no cached pointer.");

    internal static readonly Counter<long> TornRetries = Meter.CreateCounter<long>("mirrorkv.client.torn_retries", "{read}", "Reads retried because the copy was torn by a concurrent write.");

    internal static readonly Counter<long> Failovers = Meter.CreateCounter<long>("mirrorkv.client.failovers", "{failover}", "Times a client moved its reads off a failed primary.");

    internal static readonly Counter<long> Promotions = Meter.CreateCounter<long>("mirrorkv.client.promotions_followed", "{promotion}", "Times a client followed a promoted secondary with its writes.");

    internal static readonly Counter<long> WriteRetries = Meter.CreateCounter<long>("mirrorkv.client.write_retries", "{write}", "Writes sent again because the pair did not take them (NotPrimary, StaleEpoch, ReplicationFailed, a lost connection).");

    internal static readonly Counter<long> Redirects = Meter.CreateCounter<long>("mirrorkv.client.redirects", "{redirect}", "Operations a cluster node refused as another pair's (Moved) and the cluster client sent again by a refreshed map.");

    internal static readonly Counter<long> RewrittenPointers = Meter.CreateCounter<long>("mirrorkv.client.rewritten_pointers", "{pointer}", "Cached pointers rewritten from a secondary's translation.");

    internal static bool Active => OperationDuration.Enabled || Source.HasListeners();
}
