using System.Diagnostics.Metrics;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter;

/// <summary>
/// The node's instruments on the <c>MirrorKv</c> meter (one meter per node incarnation, disposed with it).
/// All are observable: the hot paths only bump the plain counters in <see cref="NodeCounters"/> (or nothing),
/// and these callbacks read them when a listener (an OpenTelemetry exporter, dotnet-counters) collects.
/// </summary>
/// <remarks>
/// Names follow the OpenTelemetry naming conventions (docs/observability.md): lowercase dotted namespaces,
/// counters of discrete things pluralized with a <c>{thing}</c> unit and no <c>total</c> (a Prometheus
/// exporter adds <c>_total</c>), UpDownCounters singular with <c>.count</c>, bytes in <c>By</c>, the node's
/// own endpoint as <c>server.address</c> and <c>server.port</c> as the HTTP server metrics carry it. The role
/// is not a tag of the other instruments: a tag that changes on failover would split every counter into a
/// series per role. It has its own instrument, one point per role with value 1 for the current one and 0 for
/// the others (the state-set pattern of the conventions' <c>hw.status</c>), so no series goes stale.
/// </remarks>
internal sealed class NodeTelemetry : IDisposable
{
    private static readonly NodeRole[] Roles = [NodeRole.Primary, NodeRole.Secondary, NodeRole.Promoting, NodeRole.Rejoining, NodeRole.Fenced, NodeRole.Stopped];

    private readonly Meter _meter;
    private readonly MirrorKvNode _node;
    private readonly NodeCounters _counters;

    public NodeTelemetry(MirrorKvNode node, NodeCounters counters)
    {
        _node = node;
        _counters = counters;
        _meter = new Meter("MirrorKv");
        _meter.CreateObservableCounter("mirrorkv.server.operations", Operations, "{operation}", "Requests served, by kind: one-sided READ and FAILOVER_READ, two-sided LOOKUP, WRITE (UPDATE included) and DELETE (writes and deletes through RESP included).");
        _meter.CreateObservableCounter("mirrorkv.server.read.io", () => Measure(Volatile.Read(ref counters.ReadBytes)), "By", "Bytes copied out of registered memory by READs and FAILOVER_READs.");
        _meter.CreateObservableCounter("mirrorkv.server.resp.commands", () => Measure(node.RespCommandCount), "{command}", "Commands served on the RESP port.");
        _meter.CreateObservableCounter("mirrorkv.server.rejected_connections", () => Measure(Volatile.Read(ref counters.ConnectionsRefused)), "{connection}", "Connections refused at the connection limit (either port).");
        _meter.CreateObservableCounter("mirrorkv.server.redirects", () => Measure(Volatile.Read(ref counters.Redirects)), "{request}", "Two-sided requests a cluster node refused as another pair's key (status Moved).");
        _meter.CreateObservableCounter("mirrorkv.server.expired_entries", () => Measure(node.ExpiredEntriesReaped), "{entry}", "Expired entries reclaimed by the primary.");
        _meter.CreateObservableCounter("mirrorkv.server.evicted_entries", () => Measure(node.Store.Evictions), "{entry}", "Keys evicted by the primary to make room for writes (a secondary counts none: it applies the primary's deletes).");
        _meter.CreateObservableUpDownCounter("mirrorkv.server.connection.count", Connections, "{connection}", "Open connections, by port: mirrorkv (clients, the peer, handshakes in progress) and resp.");
        _meter.CreateObservableUpDownCounter("mirrorkv.server.send_queue.usage", () => Measure(node.QueuedBytes), "By", "Reply bytes posted and not yet on the wire.");
        _meter.CreateObservableUpDownCounter("mirrorkv.server.entry.count", () => Measure(node.Store.GetStats().Entries), "{entry}", "Live entries in the store.");
        _meter.CreateObservableUpDownCounter("mirrorkv.server.memory.usage", () => Measure(node.Store.GetStats().UsedBytes), "By", "Store memory in use: claimed slabs plus the key index (the process's own is process.memory.usage).");
        _meter.CreateObservableUpDownCounter("mirrorkv.server.memory.limit", () => Measure((long)node.Store.Options.MaxMemory), "By", "The memory limit (--max-memory): chunks, index and access table stay under it.");
        _meter.CreateObservableUpDownCounter("mirrorkv.server.memory.registered", () => Measure(node.Store.GetStats().MemoryUsed), "By", "Memory counted against the limit: the registered chunks (claimed or not), the key index and the access table.");
        _meter.CreateObservableGauge("mirrorkv.server.replication.lsn", () => Measure((long)node.Lsn), "{record}", "Primary: last LSN written. Secondary: last LSN applied. In the primary's numbering on both nodes.");
        _meter.CreateObservableUpDownCounter("mirrorkv.server.replication.lag", () => Measure(node.Role == NodeRole.Primary ? (long)(node.Lsn - Math.Min(node.AckedLsn, node.Lsn)) : 0), "{record}", "Primary: records written and not yet confirmed by the secondary; 0 on other roles.");
        _meter.CreateObservableGauge("mirrorkv.server.protected", () => Measure(node.IsProtected ? 1 : 0), "{pair}", "1 while the pair holds two copies of every write, else 0.");
        _meter.CreateObservableGauge("mirrorkv.server.role", RoleStates, "{role}", "1 for the node's current role, 0 for the others.");
        _meter.CreateObservableGauge("mirrorkv.server.epoch", () => Measure((long)node.Epoch), "{epoch}", "The epoch of the node's role.");
    }

    public void Dispose() => _meter.Dispose();

    // Read at collection only; the endpoint is fixed for an incarnation, but reading it here keeps the port
    // right for a node that listened on port 0.
    private KeyValuePair<string, object?>[] Tags(string? key = null, object? value = null)
    {
        System.Net.IPEndPoint endPoint = _node.EndPoint;
        return key is null
            ? [new("server.address", endPoint.Address.ToString()), new("server.port", endPoint.Port)]
            : [new("server.address", endPoint.Address.ToString()), new("server.port", endPoint.Port), new(key, value)];
    }

    private Measurement<long> Measure(long value) => new(value, Tags());

    private IEnumerable<Measurement<long>> Operations() =>
    [
        new(Volatile.Read(ref _counters.Reads), Tags("db.operation.name", "READ")),
        new(Volatile.Read(ref _counters.FailoverReads), Tags("db.operation.name", "FAILOVER_READ")),
        new(Volatile.Read(ref _counters.Lookups), Tags("db.operation.name", "LOOKUP")),
        new(Volatile.Read(ref _counters.Writes), Tags("db.operation.name", "WRITE")),
        new(Volatile.Read(ref _counters.Deletes), Tags("db.operation.name", "DELETE")),
    ];

    private IEnumerable<Measurement<long>> Connections() =>
    [
        new(_node.ConnectionCount, Tags("network.protocol.name", "mirrorkv")),
        new(_node.RespConnectionCount, Tags("network.protocol.name", "resp")),
    ];

    private IEnumerable<Measurement<long>> RoleStates()
    {
        NodeRole current = _node.Role;
        var points = new Measurement<long>[Roles.Length];
        for (int i = 0; i < Roles.Length; i++)
        {
            points[i] = new(Roles[i] == current ? 1 : 0, Tags("mirrorkv.role", Roles[i].ToString().ToLowerInvariant()));
        }

        return points;
    }
}
