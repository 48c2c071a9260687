using System.Buffers;
using System.Net;
using System.Runtime.CompilerServices;
using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>
/// A client of a MirrorKv cluster: many pairs, keys spread over them by hash slot (docs/scale-out.md). Takes the
/// same <see cref="MirrorKvClientOptions"/> as <see cref="MirrorKvClient"/>, with any nodes of the cluster as
/// <see cref="MirrorKvClientOptions.EndPoints"/>; learns the cluster map from the first that answers
/// CLUSTER_MAP, and keeps one <see cref="MirrorKvClient"/> per pair, so that each pair keeps its own pointer
/// table, failover and hedging. Routes each key to the pair that owns its slot, splits batches by owner (sent in
/// parallel, results in the caller's order), and on a redirection (status Moved) refreshes the map and tries
/// again. Given the nodes of a single pair (they answer NoCluster), it is a thin shell over one
/// <see cref="MirrorKvClient"/>. Thread-safe.
/// </summary>
public sealed class MirrorKvClusterClient : IAsyncDisposable
{
    /// <summary>
    /// Redirections one operation follows before it gives up: 100. A redirection by a map no newer than this
    /// client's (the node's etcd watch lags, or the key's slot is moving and its writes are fenced until the move
    /// ends) waits 2 ms doubling to 50 ms, then 50 ms each: about 4.8 s in all, past any slot's move (docs/scale-out.md,
    /// "Moving slots": a fenced slot's writes stall, they do not fail); a newer map is fetched at once.
    /// </summary>
    private const int MaxRedirects = 100;

    /// <summary>The longest wait between two tries of a redirected operation.</summary>
    private const int MaxRedirectWaitMs = 50;

    private readonly MirrorKvClientOptions _options;
    private readonly Lock _lock = new();
    private volatile Routing _routing = null!;
    private Task? _refresh;
    private long _redirects, _mapRefreshes;

    private MirrorKvClusterClient(MirrorKvClientOptions options) => _options = options;

    /// <summary>The cluster map in use, or null when the endpoints are a single pair's.</summary>
    public ClusterMap? Map => _routing.Map;

    /// <summary>Whether the endpoints are a cluster's (false: a single pair's).</summary>
    public bool IsCluster => _routing.Map is not null;

    /// <summary>Redirections (Moved) followed so far.</summary>
    public long Redirects => Interlocked.Read(ref _redirects);

    /// <summary>Times the map was fetched again after the first.</summary>
    public long MapRefreshes => Interlocked.Read(ref _mapRefreshes);

    /// <summary>
    /// Connects: asks the configured endpoints in turn for the cluster map, then connects to every pair of it in
    /// parallel (each as <see cref="MirrorKvClient.ConnectAsync"/> does: it finds the pair's primary). When the nodes
    /// serve a single pair, or none answers, it connects as <see cref="MirrorKvClient.ConnectAsync"/> does to them.
    /// </summary>
    /// <exception cref="MirrorKvException">No endpoint answered, a pair has no primary within <see cref="MirrorKvClientOptions.PromotionWait"/>, or the secret was refused.</exception>
    public static async Task<MirrorKvClusterClient> ConnectAsync(MirrorKvClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var client = new MirrorKvClusterClient(options);
        ClusterMap? map;
        try
        {
            map = await client.FetchMapAsync(options.AllEndPoints(), 0, cancellationToken).ConfigureAwait(false);
        }
        catch (MirrorKvException e) when (e.Error == MirrorKvError.Unavailable)
        {
            // No node answered at all: connect as to a pair, which waits for a node as a pair's client does, with its
            // errors and its connect attempts counted. Nodes of a cluster that come up then answer this client's
            // first request of another pair's key with Moved, and the client fetches the map there (FollowAsync).
            map = null;
        }

        if (map is null)
        {
            client._routing = new Routing(null, [await MirrorKvClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false)]);
        }
        else
        {
            client._routing = await client.ConnectPairsAsync(map, null, cancellationToken).ConfigureAwait(false);
        }

        return client;
    }

    /// <summary>The client of pair <paramref name="pairId"/> (for status and tests), or null.</summary>
    public MirrorKvClient? PairClient(string pairId)
    {
        Routing routing = _routing;
        int index = routing.Map?.IndexOf(pairId) ?? -1;
        return index < 0 ? null : routing.Clients[index];
    }

    /// <summary>The client of the pair that owns <paramref name="key"/>'s slot by the map in use.</summary>
    public MirrorKvClient ClientFor(string key) => _routing.For(key);

    /// <summary>Reads a key's value; null when the key is not in the store.</summary>
    public async ValueTask<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        var buffer = new ArrayBufferWriter<byte>();
        return await TryGetAsync(key, buffer, cancellationToken).ConfigureAwait(false) ? buffer.WrittenSpan.ToArray() : null;
    }

    /// <summary>Reads a key's value into <paramref name="destination"/> from the pair that owns it; false when absent.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> TryGetAsync(string key, IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
    {
        for (int attempt = 0; ; attempt++)
        {
            Routing routing = _routing;
            try
            {
                return await routing.For(key).TryGetAsync(key, destination, cancellationToken).ConfigureAwait(false);
            }
            catch (MirrorKvException e) when (e.WireStatus == WireStatus.Moved && attempt < MaxRedirects)
            {
                await FollowAsync(e, routing, attempt, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Sets a key at the pair that owns it; returns once that pair acknowledged it.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        for (int attempt = 0; ; attempt++)
        {
            Routing routing = _routing;
            try
            {
                await routing.For(key).SetAsync(key, value, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (MirrorKvException e) when (e.WireStatus == WireStatus.Moved && attempt < MaxRedirects)
            {
                await FollowAsync(e, routing, attempt, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Deletes a key at the pair that owns it; false when it was not there.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        for (int attempt = 0; ; attempt++)
        {
            Routing routing = _routing;
            try
            {
                return await routing.For(key).DeleteAsync(key, cancellationToken).ConfigureAwait(false);
            }
            catch (MirrorKvException e) when (e.WireStatus == WireStatus.Moved && attempt < MaxRedirects)
            {
                await FollowAsync(e, routing, attempt, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Reads many keys: split by owning pair, each pair's keys in one pipeline (<see cref="MirrorKvClient.GetManyAsync"/>),
    /// the pairs in parallel; the result holds each key's value (null when absent) at the key's position.
    /// </summary>
    public async Task<byte[]?[]> GetManyAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var results = new byte[]?[keys.Count];
        await ForEachPairAsync(keys, async (client, positions) =>
        {
            byte[]?[] values = await client.GetManyAsync(SlotBatch.Pick(keys, positions), cancellationToken).ConfigureAwait(false);
            for (int j = 0; j < positions.Count; j++)
            {
                results[positions[j]] = values[j];
            }
        }, cancellationToken).ConfigureAwait(false);
        return results;
    }

    /// <summary>
    /// Sets many keys: split by owning pair, each pair's writes in one pipeline, the pairs in parallel; returns
    /// once every pair acknowledged its keys, and throws the first error after all of them answered.
    /// </summary>
    public async Task SetManyAsync(IReadOnlyList<string> keys, IReadOnlyList<ReadOnlyMemory<byte>> values, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count < keys.Count)
        {
            throw new ArgumentException("There must be a value for every key.", nameof(values));
        }

        await ForEachPairAsync(keys, (client, positions) =>
            client.SetManyAsync(SlotBatch.Pick(keys, positions), SlotBatch.Pick(values, positions), cancellationToken).AsTask(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes every pair's client.</summary>
    public async ValueTask DisposeAsync()
    {
        Routing routing = _routing;
        if (routing is null)
        {
            return;
        }

        foreach (MirrorKvClient client in routing.Clients)
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }
    }

    // Runs one call per owning pair on that pair's share of the keys, in parallel. Keys whose pair redirected
    // are split again by the refreshed map and sent again; any other failure is thrown once all have answered.
    private async Task ForEachPairAsync(IReadOnlyList<string> keys, Func<MirrorKvClient, List<int>, Task> call, CancellationToken cancellationToken)
    {
        IReadOnlyList<int>? only = null;
        for (int attempt = 0; ; attempt++)
        {
            Routing routing = _routing;
            SlotBatch batch = SlotBatch.Split(keys, routing.OwnerOfSlot, routing.Clients.Length, only);
            var calls = new List<(Task Call, List<int> Positions)>();
            for (int owner = 0; owner < batch.Positions.Length; owner++)
            {
                if (batch.Positions[owner] is { } positions)
                {
                    calls.Add((call(routing.Clients[owner], positions), positions));
                }
            }

            List<int>? redirected = null;
            MirrorKvException? redirect = null;
            Exception? failure = null;
            foreach ((Task pending, List<int> positions) in calls)
            {
                try
                {
                    await pending.ConfigureAwait(false);
                }
                catch (MirrorKvException e) when (e.WireStatus == WireStatus.Moved && attempt < MaxRedirects)
                {
                    (redirected ??= []).AddRange(positions);
                    redirect = e;
                }
                catch (Exception e)
                {
                    failure ??= e;
                }
            }

            if (failure is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
            }

            if (redirected is null)
            {
                return;
            }

            await FollowAsync(redirect!, routing, attempt, cancellationToken).ConfigureAwait(false);
            only = redirected;
        }
    }

    // A node refused a key as another pair's, or fenced it (its slot is moving). When it knows a newer map, fetch it
    // (once for all callers); when not (its watch lags, or the slot's move is under way), give it a moment, growing,
    // and ask again.
    private async Task FollowAsync(MirrorKvException e, Routing routing, int attempt, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _redirects);
        MirrorKvTelemetry.Redirects.Add(1);
        ulong known = routing.Map?.Version ?? 0;
        if (!Redirect.TryParse(e.Message, out Redirect? redirect))
        {
            throw new MirrorKvException(MirrorKvError.Protocol, $"a node answered Moved without a redirection this client can read: {e.Message}", WireStatus.Moved, e);
        }

        if (redirect!.MapVersion > known || routing.Map is null)
        {
            await RefreshAsync(redirect.MapVersion, redirect.EndPoint, cancellationToken).ConfigureAwait(false);
            return;
        }

        await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2 << Math.Min(attempt, 10), MaxRedirectWaitMs)), cancellationToken).ConfigureAwait(false);
    }

    private Task RefreshAsync(ulong atLeast, IPEndPoint? hint, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_refresh is { IsCompleted: false } running)
            {
                return running.WaitAsync(cancellationToken);
            }

            _refresh = RefreshCoreAsync(atLeast, hint);
            return _refresh.WaitAsync(cancellationToken);
        }
    }

    private async Task RefreshCoreAsync(ulong atLeast, IPEndPoint? hint)
    {
        Routing current = _routing;
        if ((current.Map?.Version ?? 0) >= atLeast)
        {
            return;
        }

        // The owner's primary first (it has the newest map if any node has), then every member, then the configuration.
        var candidates = new List<EndPoint>();
        if (hint is not null)
        {
            candidates.Add(hint);
        }

        foreach (ClusterPair pair in current.Map?.Pairs ?? [])
        {
            candidates.AddRange(pair.Members.Select(m => m.EndPoint));
        }

        candidates.AddRange(_options.AllEndPoints());
        ClusterMap? map = await FetchMapAsync(candidates.Distinct().ToList(), atLeast, CancellationToken.None).ConfigureAwait(false);
        if (map is null || map.Version <= (current.Map?.Version ?? 0))
        {
            return;
        }

        Routing next = await ConnectPairsAsync(map, current, CancellationToken.None).ConfigureAwait(false);
        _routing = next;
        Interlocked.Increment(ref _mapRefreshes);

        // Clients of pairs that left or changed members: closed once no operation routes to them any more.
        foreach (MirrorKvClient old in current.Clients.Where(c => !next.Clients.Contains(c)))
        {
            _ = Task.Delay(_options.RequestTimeout).ContinueWith(_ => old.DisposeAsync().AsTask(), TaskScheduler.Default);
        }
    }

    // Asks the endpoints in turn; the first map of at least minVersion wins (a node serving a single pair gives null).
    private async Task<ClusterMap?> FetchMapAsync(IReadOnlyList<EndPoint> endPoints, ulong minVersion, CancellationToken cancellationToken)
    {
        var answers = new List<string>();
        ClusterMap? best = null;
        foreach (EndPoint endPoint in endPoints)
        {
            try
            {
                foreach (IPEndPoint address in await ResolveAsync(endPoint, cancellationToken).ConfigureAwait(false))
                {
                    ClusterMap? map = await MirrorKvAdmin.GetClusterMapAsync(address, _options.Transport, _options.ConnectTimeout, _options.Secret, cancellationToken).ConfigureAwait(false);
                    if (map is null)
                    {
                        return null;
                    }

                    if (map.Version >= minVersion)
                    {
                        return map;
                    }

                    best = best is null || map.Version > best.Version ? map : best;
                    answers.Add($"{address}: map version {map.Version}");
                }
            }
            catch (MirrorKvException e) when (e.Error != MirrorKvError.AuthenticationFailed)
            {
                answers.Add($"{MirrorKvEndPoints.Describe(endPoint)}: {e.Message}");
            }
            catch (System.Net.Sockets.SocketException e)
            {
                answers.Add($"{MirrorKvEndPoints.Describe(endPoint)}: {e.Message}");
            }
        }

        return best ?? throw new MirrorKvException(MirrorKvError.Unavailable, $"no node answered CLUSTER_MAP: {string.Join("; ", answers)}");
    }

    private static async Task<IPEndPoint[]> ResolveAsync(EndPoint endPoint, CancellationToken cancellationToken) => endPoint switch
    {
        IPEndPoint ip => [ip],
        DnsEndPoint dns => [.. (await Dns.GetHostAddressesAsync(dns.Host, cancellationToken).ConfigureAwait(false)).Select(a => new IPEndPoint(a, dns.Port))],
        _ => [],
    };

    // One client per pair of the map, in the map's order; a pair whose members did not change keeps its client.
    private async Task<Routing> ConnectPairsAsync(ClusterMap map, Routing? previous, CancellationToken cancellationToken)
    {
        var clients = new Task<MirrorKvClient>[map.Pairs.Count];
        for (int i = 0; i < clients.Length; i++)
        {
            ClusterPair pair = map.Pairs[i];
            int old = previous?.Map?.IndexOf(pair.Id) ?? -1;
            clients[i] = old >= 0 && previous!.Map!.Pairs[old].SameMembers(pair)
                ? Task.FromResult(previous.Clients[old])
                : MirrorKvClient.ConnectAsync(PairOptions(pair), cancellationToken);
        }

        try
        {
            return new Routing(map, await Task.WhenAll(clients).ConfigureAwait(false));
        }
        catch
        {
            foreach (Task<MirrorKvClient> connect in clients)
            {
                if (connect.IsCompletedSuccessfully && previous?.Clients.Contains(connect.Result) != true)
                {
                    await connect.Result.DisposeAsync().ConfigureAwait(false);
                }
            }

            throw;
        }
    }

#pragma warning disable CS0618 // The pair's options name its members alone: the older shorthands must not leak into them.
    private MirrorKvClientOptions PairOptions(ClusterPair pair) =>
        _options with { EndPoints = [.. pair.Members.Select(m => (EndPoint)m.EndPoint)], PrimaryEndPoint = null, SecondaryEndPoint = null };
#pragma warning restore CS0618

    /// <summary>A map and the client of each of its pairs, in the map's order; replaced whole on a refresh.</summary>
    private sealed class Routing(ClusterMap? map, MirrorKvClient[] clients)
    {
        public ClusterMap? Map { get; } = map;

        public MirrorKvClient[] Clients { get; } = clients;

        public int OwnerOfSlot(int slot) => Map?.OwnerIndex(slot) ?? 0;

        public MirrorKvClient For(string key) => Map is null ? Clients[0] : Clients[Map.OwnerIndex(HashSlot.Of(key))];
    }
}
