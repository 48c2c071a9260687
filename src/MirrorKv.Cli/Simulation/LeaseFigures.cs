namespace MirrorKv.Cli.Simulation;

/// <summary>What a cluster's pairs ask of etcd while nothing changes (<see cref="SimPairs.MeasureAsync"/>).</summary>
/// <param name="Pairs">Pairs simulated.</param>
/// <param name="RenewalsPerSecond">Lease renewals etcd answered per second.</param>
/// <param name="RenewalsAsked">Renewals per second the pairs ask for: one per pair per TTL / 4.</param>
/// <param name="RenewalFailuresPerSecond">Renewals that failed or found the lease gone, per second.</param>
/// <param name="RenewalP50Ms">Median renewal round trip.</param>
/// <param name="RenewalP99Ms">99th percentile renewal round trip.</param>
/// <param name="ProposalsPerSecond">etcd's raft proposals committed per second meanwhile (its writes; renewals are not).</param>
/// <param name="InSyncReadsPerSecond">Secondaries' in-sync reads etcd answered per second (0 when not measured).</param>
/// <param name="InSyncReadsAsked">In-sync reads per second the secondaries ask for: one per pair per 50 ms.</param>
/// <param name="RangesPerSecond">Range requests etcd served per second meanwhile, by its own counter.</param>
internal sealed record LeaseFigures(int Pairs, double RenewalsPerSecond, double RenewalsAsked, double RenewalFailuresPerSecond, double RenewalP50Ms, double RenewalP99Ms,
    double ProposalsPerSecond, double InSyncReadsPerSecond, double InSyncReadsAsked, double RangesPerSecond);
