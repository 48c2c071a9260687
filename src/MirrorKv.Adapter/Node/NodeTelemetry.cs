using System.Diagnostics.Metrics;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter;

/// <summary>
/// The node's instruments on the <c>MirrorKv</c> meter (one meter per node, disposed with it): all observable,
/// so that they cost nothing until a listener such as dotnet-counters or OpenTelemetry collects them.
/// </summary>
internal sealed class NodeTelemetry : IDisposable
{
    private readonly Meter _meter;

    public NodeTelemetry(MirrorKvNode node, NodeCounters counters)
    {
        _meter = new Meter("MirrorKv");
        KeyValuePair<string, object?>[] Tags() => [new("mirrorkv.node", node.EndPoint.ToString()), new("mirrorkv.role", node.Role.ToString().ToLowerInvariant())];
        _meter.CreateObservableCounter("mirrorkv.server.reads", () => new Measurement<long>(Volatile.Read(ref counters.Reads), Tags()), "{read}", "One-sided READs served from registered memory.");
        _meter.CreateObservableCounter("mirrorkv.server.failover_reads", () => new Measurement<long>(Volatile.Read(ref counters.FailoverReads), Tags()), "{read}", "FAILOVER_READs: translated, then served.");
        _meter.CreateObservableCounter("mirrorkv.server.read_bytes", () => new Measurement<long>(Volatile.Read(ref counters.ReadBytes), Tags()), "By", "Bytes copied out of registered memory by READs.");
        _meter.CreateObservableCounter("mirrorkv.server.writes", () => new Measurement<long>(Volatile.Read(ref counters.Writes), Tags()), "{write}", "WRITEs and UPDATEs applied by the primary.");
        _meter.CreateObservableCounter("mirrorkv.server.deletes", () => new Measurement<long>(Volatile.Read(ref counters.Deletes), Tags()), "{delete}", "DELETEs applied by the primary.");
        _meter.CreateObservableCounter("mirrorkv.server.lookups", () => new Measurement<long>(Volatile.Read(ref counters.Lookups), Tags()), "{lookup}", "Two-sided LOOKUPs answered.");
        _meter.CreateObservableCounter("mirrorkv.server.connections_refused", () => new Measurement<long>(Volatile.Read(ref counters.ConnectionsRefused), Tags()), "{connection}", "Connections refused at the connection limit.");
        _meter.CreateObservableCounter("mirrorkv.server.expired_reaped", () => new Measurement<long>(node.ExpiredEntriesReaped, Tags()), "{entry}", "Expired entries reclaimed by the primary.");
        _meter.CreateObservableCounter("mirrorkv.server.evictions", () => new Measurement<long>(node.Store.Evictions, Tags()), "{entry}", "Keys evicted by the primary to make room for writes (a secondary counts none: it applies the primary's deletes).");
        _meter.CreateObservableUpDownCounter("mirrorkv.server.connections", () => new Measurement<int>(node.ConnectionCount, Tags()), "{connection}", "Open connections: clients, the peer and handshakes in progress.");
        _meter.CreateObservableUpDownCounter("mirrorkv.server.resp_connections", () => new Measurement<int>(node.RespConnectionCount, Tags()), "{connection}", "Open connections on the RESP port (redis clients).");
        _meter.CreateObservableUpDownCounter("mirrorkv.server.queued_bytes", () => new Measurement<long>(node.QueuedBytes, Tags()), "By", "Reply bytes posted and not yet on the wire.");
        _meter.CreateObservableUpDownCounter("mirrorkv.server.entries", () => new Measurement<long>(node.Store.GetStats().Entries, Tags()), "{entry}", "Live entries in the store.");
        _meter.CreateObservableCounter("mirrorkv.server.replication.lsn", () => new Measurement<long>((long)node.Lsn, Tags()), "{record}", "Primary: last LSN written. Secondary: last LSN applied.");
        _meter.CreateObservableUpDownCounter("mirrorkv.server.replication.lag", () => new Measurement<long>(node.Role == NodeRole.Primary ? (long)(node.Lsn - Math.Min(node.AckedLsn, node.Lsn)) : 0, Tags()), "{record}", "Primary: records written and not yet confirmed by the secondary.");
        _meter.CreateObservableUpDownCounter("mirrorkv.server.protected", () => new Measurement<int>(node.IsProtected ? 1 : 0, Tags()), "{pair}", "1 while the pair holds two copies of the data.");
        _meter.CreateObservableUpDownCounter("mirrorkv.server.epoch", () => new Measurement<long>((long)node.Epoch, Tags()), "{epoch}", "The node's epoch.");
    }

    public void Dispose() => _meter.Dispose();
}
