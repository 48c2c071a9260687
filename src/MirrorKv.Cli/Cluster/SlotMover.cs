using System.Diagnostics;
using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Cli.Cluster;

/// <summary>
/// Moves slot ranges between live pairs (<c>mirrorkv cluster move|rebalance|add-pair|remove-pair</c>;
/// docs/scale-out.md, "Moving slots"). Each batch goes through three maps, each written to etcd by compare-and-swap:
/// <b>copy</b> (the source fences the batch's writes; the mover pages its entries out of the source's primary and
/// into the target's), <b>handoff</b> (the source refuses every operation of the batch; once every reachable member
/// of the source serves that map, the mover deletes the source's entries through its replication), then the
/// target owns the batch. The state lives in the map, so a run that stops (etcd unreachable past
/// <see cref="EtcdPatience"/>, a pair that refuses a step for good, such as a full target: <see cref="MoveRefusal"/>;
/// Ctrl+C, a crash) leaves the fence up and the next run finishes every move it finds in the map before anything else.
/// </summary>
internal sealed class SlotMover(ClusterDirectory directory, byte[]? secret, TextWriter log)
{
    private readonly ClusterDirectory _directory = directory;
    private readonly byte[]? _secret = secret;

    /// <summary>The cluster's name: its keys in etcd live under its prefix.</summary>
    public string Cluster => _directory.Cluster;

    /// <summary>How long the mover waits for a pair's primary, or a member's map, before it gives up (resumable).</summary>
    public TimeSpan PatienceLimit { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long the mover asks an etcd that does not answer again before it stops (resumable): an outage shorter
    /// than this only lengthens the current batch's fence, as the map cannot change meanwhile.
    /// </summary>
    public TimeSpan EtcdPatience { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Most slots per batch: a batch's writes stall for as long as its copy and two map changes take.</summary>
    public int BatchSlots { get; init; } = 1024;

    /// <summary>Slots and entries moved, and how long each batch's writes were fenced.</summary>
    public MoveStats Stats { get; } = new();

    /// <summary>Finishes the moves the map holds, then moves <paramref name="first"/>-<paramref name="last"/> to <paramref name="to"/> in batches.</summary>
    public async Task MoveAsync(int first, int last, string to, CancellationToken cancellationToken)
    {
        await FinishPendingAsync(cancellationToken).ConfigureAwait(false);
        ClusterMap map = await MapAsync(cancellationToken).ConfigureAwait(false);
        if (map.IndexOf(to) < 0)
        {
            throw new MoveException($"pair '{to}' is not in the map (version {map.Version}): add it first with mirrorkv cluster add-pair");
        }

        var moves = new List<SlotRange>();
        for (int slot = first; slot <= last; slot++)
        {
            string from = map.Owner(slot).Id;
            if (from == to)
            {
                continue;
            }

            if (moves.Count > 0 && moves[^1].Last == slot - 1 && moves[^1].PairId == from)
            {
                moves[^1] = moves[^1] with { Last = slot };
            }
            else
            {
                moves.Add(new SlotRange(slot, slot, from, to, MigrationPhase.Copy));
            }
        }

        await RunAsync(moves, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Finishes the moves the map holds, then moves slots until every pair but <paramref name="leaving"/> has an even share.</summary>
    public async Task RebalanceAsync(string? leaving, CancellationToken cancellationToken)
    {
        await FinishPendingAsync(cancellationToken).ConfigureAwait(false);
        ClusterMap map = await MapAsync(cancellationToken).ConfigureAwait(false);
        await RunAsync(SlotPlan.Moves(map, SlotPlan.EvenShares(map, leaving)), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Moves every range the map shows moving to its end (a run that stopped half-way).</summary>
    public async Task FinishPendingAsync(CancellationToken cancellationToken)
    {
        ClusterMap map = await MapAsync(cancellationToken).ConfigureAwait(false);
        foreach (SlotRange range in map.Ranges.Where(r => r.IsMigrating).ToList())
        {
            log.WriteLine($"resuming the move of slots {range.First}-{range.Last} from {range.PairId} to {range.MigratingTo} (phase {range.Phase.ToString().ToLowerInvariant()}, map version {map.Version})");
            await MoveBatchAsync(range with { Phase = MigrationPhase.Copy }, cancellationToken, resumed: true).ConfigureAwait(false);
        }
    }

    /// <summary>Writes <paramref name="first"/> as the cluster's first map: refused where etcd holds one already.</summary>
    public async Task CreateAsync(ClusterMap first, CancellationToken cancellationToken)
    {
        ClusterSnapshot snapshot = await ReadAsync(cancellationToken).ConfigureAwait(false);
        if (snapshot.Map is { } existing)
        {
            throw new MoveException($"etcd holds a map of cluster '{_directory.Cluster}' already (version {existing.Version}, pairs {string.Join(", ", existing.Pairs.Select(p => p.Id))}): add pairs to it with mirrorkv cluster add-pair, or choose another --name");
        }

        if (await EtcdAsync(() => _directory.TryPublishAsync(first, snapshot, cancellationToken), cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        // A lost answer to a write that landed fails the compare-and-swap against itself: read it back to tell.
        ClusterMap? written = (await ReadAsync(cancellationToken).ConfigureAwait(false)).Map;
        if (written is null || written.ToString() != first.ToString() || written.Pairs.Count != first.Pairs.Count
            || !written.Pairs.Zip(first.Pairs).All(p => p.First.SameMembers(p.Second)))
        {
            throw new MoveException($"another process wrote a map of cluster '{_directory.Cluster}' at the same moment: see it with mirrorkv cluster status --etcd");
        }
    }

    /// <summary>Writes the next map, built from the current one by <paramref name="change"/>, by compare-and-swap (again after a lost race).</summary>
    public async Task<ClusterMap> PublishAsync(Func<ClusterMap, ulong, ClusterMap> change, CancellationToken cancellationToken)
    {
        while (true)
        {
            ClusterSnapshot snapshot = await ReadAsync(cancellationToken).ConfigureAwait(false);
            ClusterMap current = snapshot.Map ?? throw new MoveException($"etcd holds no map of cluster '{_directory.Cluster}' (mirrorkv cluster create writes one; cluster up does for a local cluster)");
            ClusterMap next = change(current, current.Version + 1);

            // A publish whose answer was lost may have been written: the compare-and-swap then fails against its own
            // map, the loop reads it, and every caller's change builds from the state the map holds.
            if (await EtcdAsync(() => _directory.TryPublishAsync(next, snapshot, cancellationToken), cancellationToken).ConfigureAwait(false))
            {
                return next;
            }
        }
    }

    private async Task RunAsync(IReadOnlyList<SlotRange> moves, CancellationToken cancellationToken)
    {
        foreach (SlotRange move in moves)
        {
            foreach (SlotRange batch in SlotPlan.Batches(move, BatchSlots))
            {
                await MoveBatchAsync(batch, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    // One batch from wherever the map has it to owned by its target: the state is read from the map at each step.
    // A resumed batch was fenced by an earlier run: how long is not known here, so it is reported as such.
    private async Task MoveBatchAsync(SlotRange batch, CancellationToken cancellationToken, bool resumed = false)
    {
        (int first, int last, string from, string to) = (batch.First, batch.Last, batch.PairId, batch.MigratingTo!);
        long started = Stopwatch.GetTimestamp();
        int entries = 0;
        while (true)
        {
            ClusterMap map = await MapAsync(cancellationToken).ConfigureAwait(false);
            SlotRange state = StateOf(map, first, last);
            if (state.PairId == to && !state.IsMigrating)
            {
                TimeSpan fenced = Stopwatch.GetElapsedTime(started);
                if (resumed)
                {
                    Stats.AddResumed(last - first + 1, entries, fenced);
                }
                else
                {
                    Stats.Add(last - first + 1, entries, fenced);
                }

                string fence = resumed ? $"writes fenced since the run that stopped, {fenced.TotalMilliseconds:F0} ms of it in this run" : $"writes fenced {fenced.TotalMilliseconds:F0} ms";
                log.WriteLine($"slots {first}-{last}: {from} -> {to} done at map version {map.Version} ({entries} entries, {fence})");
                return;
            }

            if (state.PairId != from || (state.IsMigrating && state.MigratingTo != to))
            {
                throw new MoveException($"slots {first}-{last} changed under the mover (now {state}); run again to move them from where they are");
            }

            switch (state.Phase)
            {
                case MigrationPhase.None:
                    started = Stopwatch.GetTimestamp();
                    ClusterMap copy = await PublishAsync((m, v) => m.WithSlots(v, first, last, from, to, MigrationPhase.Copy), cancellationToken).ConfigureAwait(false);
                    log.WriteLine($"slots {first}-{last}: map version {copy.Version}: copy from {from} to {to} (writes fenced)");
                    break;
                case MigrationPhase.Copy:
                    entries = await CopyAsync(first, last, from, to, map.Version, cancellationToken).ConfigureAwait(false);
                    ClusterMap handoff = await PublishAsync((m, v) => m.WithSlots(v, first, last, from, to, MigrationPhase.Handoff), cancellationToken).ConfigureAwait(false);
                    log.WriteLine($"slots {first}-{last}: map version {handoff.Version}: handoff ({entries} entries copied; {from} serves none of them now)");
                    break;
                default:
                    // Every member of the source must refuse the slots before their entries go: a lagging secondary
                    // would answer "not found" for a key the target holds.
                    await BarrierAsync(map, [from], map.Version, required: true, cancellationToken).ConfigureAwait(false);
                    int retired = await RetireAsync(first, last, from, to, map.Version, cancellationToken).ConfigureAwait(false);
                    ClusterMap owned = await PublishAsync((m, v) => m.WithSlots(v, first, last, to), cancellationToken).ConfigureAwait(false);
                    log.WriteLine($"slots {first}-{last}: map version {owned.Version}: owned by {to} ({retired} entries deleted at {from})");

                    // Not needed for safety; the sooner the target serves the new map, the sooner the stall ends.
                    await BarrierAsync(owned, [to], owned.Version, required: false, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
    }

    // Pages the range's entries from the source's primary into the target's. A failover of the source restarts the
    // pages from the start (a cursor is an address in one node's memory); of the target, the page is sent again. A
    // refusal that waiting does not cure (the target's store full) stops the move in phase copy: nothing is lost.
    private async Task<int> CopyAsync(int first, int last, string from, string to, ulong version, CancellationToken cancellationToken)
    {
        ulong cursor = 0;
        IPEndPoint? cursorAt = null;
        int entries = 0;
        await using var source = new PrimaryLink(this, from);
        await using var target = new PrimaryLink(this, to);
        SlotPage? page = null;
        while (true)
        {
            SlotTransferConnection exporter = await source.GetAsync(cancellationToken).ConfigureAwait(false);
            if (!exporter.EndPoint.Equals(cursorAt))
            {
                (cursor, cursorAt, page, entries) = (0, exporter.EndPoint, null, 0);
            }

            // A page must be importable at the target as exported: no larger than either side's frames take. Found
            // before the source's try, so that trouble reaching the target is never taken for the source's.
            int pageBytes = Math.Min(exporter.MaxPageBytes, (await target.GetAsync(cancellationToken).ConfigureAwait(false)).MaxPageBytes);
            try
            {
                page ??= await exporter.ExportAsync(first, last, cursor, pageBytes, cancellationToken).ConfigureAwait(false);
                source.Succeeded();
            }
            catch (MirrorKvException e) when (PrimaryLink.IsPassing(e))
            {
                await source.RecoverAsync(e, cancellationToken).ConfigureAwait(false);
                continue;
            }
            catch (MirrorKvException e)
            {
                throw MoveRefusal.Export(e, from, to, exporter.EndPoint, first, last, version);
            }

            if (page.Count > 0)
            {
                SlotTransferConnection importer = await target.GetAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    await importer.ImportAsync(first, last, page, cancellationToken).ConfigureAwait(false);
                    target.Succeeded();
                }
                catch (MirrorKvException e) when (PrimaryLink.IsPassing(e))
                {
                    await target.RecoverAsync(e, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                catch (MirrorKvException e)
                {
                    throw MoveRefusal.Import(e, from, to, importer.EndPoint, first, last, version, entries);
                }
            }

            entries += page.Count;
            cursor = page.NextCursor;
            page = null;
            if (cursor == 0)
            {
                return entries;
            }
        }
    }

    private async Task<int> RetireAsync(int first, int last, string from, string to, ulong version, CancellationToken cancellationToken)
    {
        ulong cursor = 0;
        IPEndPoint? cursorAt = null;
        int deleted = 0;
        await using var source = new PrimaryLink(this, from);
        while (true)
        {
            SlotTransferConnection primary = await source.GetAsync(cancellationToken).ConfigureAwait(false);
            if (!primary.EndPoint.Equals(cursorAt))
            {
                (cursor, cursorAt) = (0, primary.EndPoint);
            }

            try
            {
                (cursor, int n) = await primary.RetireAsync(first, last, cursor, cancellationToken: cancellationToken).ConfigureAwait(false);
                deleted += n;
                source.Succeeded();
            }
            catch (MirrorKvException e) when (PrimaryLink.IsPassing(e))
            {
                await source.RecoverAsync(e, cancellationToken).ConfigureAwait(false);
                continue;
            }
            catch (MirrorKvException e)
            {
                throw MoveRefusal.Retire(e, from, to, primary.EndPoint, first, last, version);
            }

            if (cursor == 0)
            {
                return deleted;
            }
        }
    }

    // Waits until every member of the pairs named serves map version at least `version`. A member that does not
    // answer is down (it reads the map from etcd before it serves again); one that answers with an older map keeps
    // the mover waiting, up to PatienceLimit.
    private async Task BarrierAsync(ClusterMap map, IReadOnlyList<string> pairs, ulong version, bool required, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        foreach (ClusterMember member in pairs.Select(map.Find).Where(p => p is not null).SelectMany(p => p!.Members))
        {
            while (true)
            {
                ulong seen;
                try
                {
                    seen = (await MirrorKvAdmin.GetClusterMapAsync(member.EndPoint, timeout: TimeSpan.FromSeconds(1), secret: _secret, cancellationToken: cancellationToken).ConfigureAwait(false))?.Version ?? 0;
                }
                catch (MirrorKvException e) when (e.Error == MirrorKvError.Unavailable)
                {
                    break;
                }

                if (seen >= version)
                {
                    break;
                }

                if (Stopwatch.GetElapsedTime(started) > PatienceLimit)
                {
                    if (!required)
                    {
                        return;
                    }

                    throw new MoveException($"{member.EndPoint} still serves map version {seen} after {PatienceLimit.TotalSeconds:F0} s, not {version} (is its etcd watch cut off?)");
                }

                await Task.Delay(5, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The map in etcd now.</summary>
    public async Task<ClusterMap> MapAsync(CancellationToken cancellationToken) =>
        (await ReadAsync(cancellationToken).ConfigureAwait(false)).Map
        ?? throw new MoveException($"etcd holds no map of cluster '{_directory.Cluster}' (mirrorkv cluster create writes one; cluster up does for a local cluster)");

    private Task<ClusterSnapshot> ReadAsync(CancellationToken cancellationToken) => EtcdAsync(() => _directory.ReadAsync(cancellationToken), cancellationToken);

    // An etcd request, asked again every half second while etcd does not answer, up to EtcdPatience; a map etcd
    // returns that does not decode is no outage and is not asked again.
    private async Task<T> EtcdAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        long since = 0;
        while (true)
        {
            try
            {
                T result = await call().ConfigureAwait(false);
                if (since != 0)
                {
                    log.WriteLine($"etcd answers again after {Stopwatch.GetElapsedTime(since).TotalSeconds:F1} s: the move goes on");
                }

                return result;
            }
            catch (InvalidOperationException e) when (e.InnerException is not FormatException && !cancellationToken.IsCancellationRequested
                && (since == 0 || Stopwatch.GetElapsedTime(since) < EtcdPatience))
            {
                if (since == 0)
                {
                    since = Stopwatch.GetTimestamp();
                    log.WriteLine($"etcd does not answer ({e.Message}): the fence stays up; asking again for up to {EtcdPatience.TotalSeconds:F0} s");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    // The slots first-last as one state (owner, move); they are moved as one batch, so they share it.
    private static SlotRange StateOf(ClusterMap map, int first, int last)
    {
        SlotRange? found = null;
        foreach (SlotRange range in map.Ranges.Where(r => r.Last >= first && r.First <= last))
        {
            if (found is { } f && (f.PairId != range.PairId || f.MigratingTo != range.MigratingTo || f.Phase != range.Phase))
            {
                throw new MoveException($"slots {first}-{last} are not in one state in map version {map.Version} ({f}; {range}): someone else moves them");
            }

            found = range;
        }

        return found!.Value with { First = first, Last = last };
    }

    /// <summary>A connection to a pair's primary as etcd names it, found again after a failover.</summary>
    private sealed class PrimaryLink(SlotMover mover, string pairId) : IAsyncDisposable
    {
        private SlotTransferConnection? _connection;
        private long _troubleSince;

        public async Task<SlotTransferConnection> GetAsync(CancellationToken cancellationToken)
        {
            while (_connection is null)
            {
                ClusterSnapshot snapshot = await mover.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (snapshot.PrimaryOf(pairId) is { } primary)
                {
                    try
                    {
                        _connection = await SlotTransferConnection.ConnectAsync(primary, secret: mover._secret, cancellationToken: cancellationToken).ConfigureAwait(false);
                        break;
                    }
                    catch (MirrorKvException e) when (e.Error == MirrorKvError.Unavailable)
                    {
                    }
                }

                await WaitAsync($"pair {pairId} has no primary that answers", cancellationToken).ConfigureAwait(false);
            }

            return _connection;
        }

        // Whether the refusal is one to wait out: the node's map lags, or the primary failed or failed over.
        public static bool IsPassing(MirrorKvException e) =>
            e.WireStatus is WireStatus.SlotsNotMoving or WireStatus.NotPrimary or WireStatus.ReplicationFailed || e.Error == MirrorKvError.Unavailable;

        // Waits a moment (within the patience limit), after dropping the connection unless only the map lags.
        public async Task RecoverAsync(MirrorKvException e, CancellationToken cancellationToken)
        {
            if (e.WireStatus != WireStatus.SlotsNotMoving)
            {
                await DisposeAsync().ConfigureAwait(false);
            }

            await WaitAsync(e.Message, cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask DisposeAsync()
        {
            if (_connection is not null)
            {
                await _connection.DisposeAsync().ConfigureAwait(false);
                _connection = null;
            }
        }

        /// <summary>The last request went through: the patience limit counts from the next trouble.</summary>
        public void Succeeded() => _troubleSince = 0;

        private async Task WaitAsync(string why, CancellationToken cancellationToken)
        {
            if (_troubleSince == 0)
            {
                _troubleSince = Stopwatch.GetTimestamp();
            }
            else if (Stopwatch.GetElapsedTime(_troubleSince) > mover.PatienceLimit)
            {
                throw new MoveException($"gave up after {mover.PatienceLimit.TotalSeconds:F0} s: {why}");
            }

            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }
    }
}
