using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>
/// Failing over: a failed primary moves the route to FailingOver (reads go to the secondary as FAILOVER_READ
/// with primary pointers), and the table is rewritten from the secondary's translation, which moves it on to
/// Secondary (reads one-sided there with translated pointers).
/// </summary>
internal sealed partial class ClientRouter
{
    private Task _failover = Task.CompletedTask;
    private int _translationDeltas;
    private long _tableRewrites, _rewrittenPointers;

    /// <summary>Raised after the local table was rewritten from a translation: pointers rewritten, distinct slab deltas.</summary>
    public event Action<long, int>? TableRewritten;

    public long TableRewrites => Interlocked.Read(ref _tableRewrites);

    public long RewrittenPointers => Interlocked.Read(ref _rewrittenPointers);

    public int TranslationDeltas => Volatile.Read(ref _translationDeltas);

    // Every channel's failure handler (a reset, a timeout, a refusal as no longer primary), on the thread that saw it.
    private void OnChannelFailure(NodeChannel channel)
    {
        ClientRoute route = _route;
        if (channel != route.Primary)
        {
            if (channel == route.Secondary)
            {
                KeepSecondaryWarm(channel.EndPoint);
            }

            return;
        }

        if (route.Path == ClientPath.Primary)
        {
            // False when another thread moved on first (the same failure seen twice, or a new primary adopted).
            TryTransition(route, ClientPath.FailingOver);
        }
    }

    // Entry action of FailingOver, under the lock.
    private void StartFailover(NodeChannel failed) => _failover = Task.Run(() => FailOverAsync(failed));

    private async Task FailOverAsync(NodeChannel failed)
    {
        RegionInfo failedRegion = failed.Region;
        NodeChannel? secondary = _route.Secondary is { IsHealthy: true } s ? s : await _secondaryConnect.ConfigureAwait(false);
        if (secondary is null && _route.SecondaryEndPoint is { } endPoint)
        {
            Task<NodeChannel?> connect;
            lock (_lock)
            {
                connect = _secondaryConnect = ConnectSecondaryAsync(endPoint);
            }

            secondary = await connect.ConfigureAwait(false);
        }

        // A write may already have followed the promotion (it polls every 10 ms): then the old secondary is
        // the primary now, and it still holds the translation of the failed primary's pointers.
        if (secondary is null && _route.Primary is { IsHealthy: true } adopted && adopted.Region.RKey != failedRegion.RKey)
        {
            secondary = adopted;
        }

        for (int attempt = 0; attempt < 2 && secondary is not null && _options.RewriteTableOnFailover; attempt++)
        {
            try
            {
                await RewriteTableAsync(secondary, failed).ConfigureAwait(false);

                // A promotion may have been followed meanwhile: then the path is Primary again and stays so.
                ClientRoute route = _route;
                if (route.Path == ClientPath.FailingOver && route.Primary == failed)
                {
                    TryTransition(route, ClientPath.Secondary);
                }

                return;
            }
            catch (Exception e) when (e is MirrorKvException or ObjectDisposedException or Transport.ConnectionClosedException)
            {
                // Following a promotion retires the old channel to the secondary; the promoted node keeps the
                // translation, so ask it through the new primary channel. Otherwise reads go on as
                // FAILOVER_READ: the rewrite is an optimisation, not a requirement.
                NodeChannel current = _route.Primary;
                secondary = current.IsHealthy && current.Region.RKey != failedRegion.RKey ? current : null;
            }
        }
    }

    // One TRANSLATION per region of the failed primary this client has seen (a node registers memory in chunks,
    // each with its rkey), all into one table: every pointer into any of them is rewritten through its slab's pair.
    private async Task RewriteTableAsync(NodeChannel secondary, NodeChannel failed)
    {
        IReadOnlyList<uint> primaryRKeys = failed.RKeys.ToList();
        TranslationTable? table = null;
        foreach (uint primaryRKey in primaryRKeys)
        {
            PendingOperation op = secondary.Rent();
            try
            {
                secondary.PostTranslation(op, primaryRKey);
                await op.AsValueTask().ConfigureAwait(false);
                if (op.Status == WireStatus.NoTranslation)
                {
                    // A region the secondary does not mirror holds no acknowledged entry: its pointers are forgotten below.
                    continue;
                }

                if (op.Status != WireStatus.Ok || TranslationMessages.TryReadReply(op.Payload, out uint localRKey, out uint slabSize, out SlabMapping[] mappings) != WireStatus.Ok)
                {
                    throw new MirrorKvException(MirrorKvError.Protocol, $"TRANSLATION failed: {op.Status}: {ErrorText.Read(op.Payload)}", op.Status);
                }

                table ??= new TranslationTable((int)slabSize);
                if (mappings.Length == 0)
                {
                    continue;
                }

                // Region bases are multiples of the slab size (docs/protocol.md), so the mapped slabs' span, from
                // the lowest pair to the highest, is a region as good as the real one for translating: a pointer
                // outside it lies in a slab with no pair, which the secondary has no entry of.
                ulong low = mappings[0].PrimarySlabBase, high = mappings[^1].PrimarySlabBase + slabSize;
                table.MapRegion(primaryRKey, low, high - low, localRKey);
                foreach (SlabMapping m in mappings)
                {
                    table.MapSlab(primaryRKey, m.PrimarySlabBase, m.LocalSlabBase);
                }

                secondary.RKeys.Add(localRKey);
            }
            finally
            {
                secondary.Return(op);
            }
        }

        TranslationSnapshot snapshot = table?.Current ?? TranslationSnapshot.Empty(1);
        Volatile.Write(ref _translationDeltas, snapshot.CountDistinctDeltas());
        long rewritten = _table.RewriteAll(cached =>
        {
            if (!failed.Owns(cached.Pointer.RKey))
            {
                return null;
            }

            // A slab the secondary has not seen cannot hold an acknowledged entry: forget the pointer.
            return snapshot.TryTranslate(cached.Pointer, out RemotePointer local) == TranslationStatus.Ok ? cached with { Pointer = local } : default(CachedPointer);
        });

        Interlocked.Increment(ref _tableRewrites);
        Interlocked.Add(ref _rewrittenPointers, rewritten);
        MirrorKvTelemetry.RewrittenPointers.Add(rewritten);
        LogTableRewritten(rewritten, snapshot.CountDistinctDeltas());
        TableRewritten?.Invoke(rewritten, snapshot.CountDistinctDeltas());
    }
}
