using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace MirrorKv.Adapter;

/// <summary>
/// The few calls of etcd's v3 API a pair needs, over its JSON gateway (<c>POST /v3/...</c>, keys and values
/// in base64): leases, a compare-and-set transaction, a read. Plain HTTP/1.1 with the base library: no gRPC
/// stack for a handful of small requests a second. Endpoints are tried in turn until one answers.
/// </summary>
internal sealed class EtcdClient(IReadOnlyList<Uri> endPoints, TimeSpan requestTimeout) : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = requestTimeout };
    private HttpClient? _watchHttp;
    private int _current;

    /// <summary>A key's value, its lease (0 when none) and its create revision (0 when the key does not exist).</summary>
    public readonly record struct Entry(byte[]? Value, long Lease, long CreateRevision, long ModRevision);

    /// <summary>One change a watch reported: the key's new entry (as a read would give it), or its deletion.</summary>
    public readonly record struct Change(string Key, Entry Entry, bool Deleted);

    /// <summary>Grants a lease of <paramref name="ttl"/>; returns its id and the TTL etcd granted (it has a minimum).</summary>
    public async Task<(long Id, TimeSpan Ttl)> GrantAsync(TimeSpan ttl, CancellationToken cancellationToken)
    {
        JsonNode reply = await PostAsync("/v3/lease/grant", new JsonObject { ["TTL"] = (long)Math.Ceiling(ttl.TotalSeconds) }, cancellationToken).ConfigureAwait(false);
        return (Long(reply["ID"]), TimeSpan.FromSeconds(Long(reply["TTL"])));
    }

    /// <summary>Renews lease <paramref name="id"/>; returns its TTL, or zero when etcd no longer has it (it expired or was revoked).</summary>
    public async Task<TimeSpan> KeepAliveAsync(long id, CancellationToken cancellationToken)
    {
        JsonNode reply = await PostAsync("/v3/lease/keepalive", new JsonObject { ["ID"] = id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, cancellationToken).ConfigureAwait(false);
        return TimeSpan.FromSeconds(Long(reply["result"]?["TTL"]));
    }

    /// <summary>Revokes lease <paramref name="id"/> and deletes the keys attached to it; a lease already gone is not an error.</summary>
    public async Task RevokeAsync(long id, CancellationToken cancellationToken)
    {
        try
        {
            await PostAsync("/v3/lease/revoke", new JsonObject { ["ID"] = id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, cancellationToken).ConfigureAwait(false);
        }
        catch (EtcdException e) when (e.Message.Contains("not found", StringComparison.Ordinal))
        {
        }
    }

    public async Task<Entry> GetAsync(string key, CancellationToken cancellationToken)
    {
        JsonNode reply = await PostAsync("/v3/kv/range", new JsonObject { ["key"] = B64(key) }, cancellationToken).ConfigureAwait(false);
        return ToEntry(reply["kvs"]?[0]);
    }

    /// <summary>The key's modification revision (0 when it is absent), read without its value.</summary>
    public async Task<long> ModRevisionAsync(string key, CancellationToken cancellationToken)
    {
        JsonNode reply = await PostAsync("/v3/kv/range", new JsonObject { ["key"] = B64(key), ["keys_only"] = true }, cancellationToken).ConfigureAwait(false);
        return Long(reply["kvs"]?[0]?["mod_revision"]);
    }

    /// <summary>Every key under <paramref name="prefix"/> with its entry, and the store revision the read saw.</summary>
    public async Task<(IReadOnlyList<(string Key, Entry Entry)> Entries, long Revision)> RangePrefixAsync(string prefix, CancellationToken cancellationToken)
    {
        (IReadOnlyList<(string Key, Entry Entry)> entries, long revision, _) = await RangeAsync(prefix, PrefixEnd(prefix), 0, cancellationToken).ConfigureAwait(false);
        return (entries, revision);
    }

    /// <summary>
    /// The keys from <paramref name="key"/> up to (not including) <paramref name="rangeEnd"/> (null: the one key), in
    /// key order, at most <paramref name="limit"/> of them (0: all), with the store revision the read saw and whether
    /// more keys lie in the range past the last one returned.
    /// </summary>
    public async Task<(IReadOnlyList<(string Key, Entry Entry)> Entries, long Revision, bool More)> RangeAsync(string key, string? rangeEnd, long limit, CancellationToken cancellationToken)
    {
        var request = new JsonObject { ["key"] = B64(key) };
        if (rangeEnd is not null)
        {
            request["range_end"] = B64(rangeEnd);
        }

        if (limit > 0)
        {
            request["limit"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        JsonNode reply = await PostAsync("/v3/kv/range", request, cancellationToken).ConfigureAwait(false);
        var entries = new List<(string, Entry)>();
        if (reply["kvs"] is JsonArray kvs)
        {
            foreach (JsonNode? kv in kvs)
            {
                entries.Add((Encoding.UTF8.GetString(Convert.FromBase64String(kv!["key"]!.GetValue<string>())), ToEntry(kv)));
            }
        }

        return (entries, Long(reply["header"]?["revision"]), reply["more"]?.GetValue<bool>() == true);
    }

    /// <summary>
    /// Watches every key under <paramref name="prefix"/> from revision <paramref name="fromRevision"/> on, and
    /// calls <paramref name="onChanges"/> with each batch of changes etcd sends (each with the key's new value: no read
    /// is needed to learn it); returns when the stream ends (etcd went away, or cancelled the watch, as it does when
    /// the revision was compacted) and throws <see cref="EtcdException"/> when no endpoint takes it. After a return the
    /// caller reads again and watches from there: it may have missed changes.
    /// </summary>
    public async Task WatchPrefixAsync(string prefix, long fromRevision, Action<IReadOnlyList<Change>> onChanges, CancellationToken cancellationToken)
    {
        _watchHttp ??= new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var body = new JsonObject
        {
            ["create_request"] = new JsonObject { ["key"] = B64(prefix), ["range_end"] = B64(PrefixEnd(prefix)), ["start_revision"] = fromRevision.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        };
        Uri endPoint = endPoints[Volatile.Read(ref _current) % endPoints.Count];
        HttpResponseMessage response;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(endPoint, "/v3/watch")) { Content = JsonContent.Create(body) };
            response = await _watchHttp.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            // Next time, the next endpoint.
            Interlocked.Increment(ref _current);
            throw new EtcdUnavailableException($"cannot watch {prefix} at {endPoint}: {e.Message}", e);
        }

        using (response)
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                JsonNode? message = JsonNode.Parse(line);
                if (message?["error"] is { } error)
                {
                    throw new EtcdException($"etcd at {endPoint}: watch of {prefix}: {error}");
                }

                if (message?["result"]?["events"] is JsonArray { Count: > 0 } events)
                {
                    var changes = new List<Change>(events.Count);
                    foreach (JsonNode? e in events)
                    {
                        // The gateway leaves out a PUT's type (the enum's zero); a deletion's kv has the key and revision only.
                        JsonNode? kv = e?["kv"];
                        if (kv?["key"]?.GetValue<string>() is { } key)
                        {
                            bool deleted = e!["type"]?.GetValue<string>() == "DELETE";
                            changes.Add(new Change(Encoding.UTF8.GetString(Convert.FromBase64String(key)), deleted ? new Entry(null, 0, 0, Long(kv["mod_revision"])) : ToEntry(kv), deleted));
                        }
                    }

                    onChanges(changes);
                }

                if (message?["result"]?["canceled"]?.GetValue<bool>() == true)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Puts every (key, value, lease) of <paramref name="puts"/> in one transaction if each compared key has
    /// the given create revision (0: absent) and, when given, mod revision. Returns the revision of the
    /// transaction (the create revision of each key it created), or 0 when a compare failed and nothing was put.
    /// </summary>
    public async Task<long> PutIfAsync(IEnumerable<(string Key, long CreateRevision, long? ModRevision)> compares, IEnumerable<(string Key, byte[] Value, long Lease)> puts, CancellationToken cancellationToken)
    {
        var compare = new JsonArray();
        foreach ((string key, long create, long? mod) in compares)
        {
            compare.Add(new JsonObject { ["key"] = B64(key), ["target"] = "CREATE", ["result"] = "EQUAL", ["create_revision"] = create.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            if (mod is { } m)
            {
                compare.Add(new JsonObject { ["key"] = B64(key), ["target"] = "MOD", ["result"] = "EQUAL", ["mod_revision"] = m.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            }
        }

        var success = new JsonArray();
        foreach ((string key, byte[] value, long lease) in puts)
        {
            var put = new JsonObject { ["key"] = B64(key), ["value"] = Convert.ToBase64String(value) };
            if (lease != 0)
            {
                put["lease"] = lease.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            success.Add(new JsonObject { ["request_put"] = put });
        }

        JsonNode reply = await PostAsync("/v3/kv/txn", new JsonObject { ["compare"] = compare, ["success"] = success }, cancellationToken).ConfigureAwait(false);
        return reply["succeeded"]?.GetValue<bool>() == true ? Math.Max(1, Long(reply["header"]?["revision"])) : 0;
    }

    public void Dispose()
    {
        _http.Dispose();
        _watchHttp?.Dispose();
    }

    // etcd's range end for "every key starting with prefix": the prefix with its last byte incremented.
    internal static string PrefixEnd(string prefix) => prefix[..^1] + (char)(prefix[^1] + 1);

    private async Task<JsonNode> PostAsync(string path, JsonObject body, CancellationToken cancellationToken)
    {
        Exception? last = null;
        for (int i = 0; i < endPoints.Count; i++)
        {
            int index = (Volatile.Read(ref _current) + i) % endPoints.Count;
            try
            {
                using HttpResponseMessage response = await _http.PostAsync(new Uri(endPoints[index], path), JsonContent.Create(body), cancellationToken).ConfigureAwait(false);
                string text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                JsonNode reply = JsonNode.Parse(text) ?? new JsonObject();
                if (reply["error"] is { } error)
                {
                    throw new EtcdException($"etcd at {endPoints[index]}: {error}");
                }

                Volatile.Write(ref _current, index);
                return reply;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException && !cancellationToken.IsCancellationRequested)
            {
                last = e;
            }
        }

        throw new EtcdUnavailableException($"no etcd endpoint answered ({string.Join(", ", endPoints)}): {last?.Message}", last);
    }

    private static Entry ToEntry(JsonNode? kv) => kv is null
        ? new Entry(null, 0, 0, 0)
        : new Entry(kv["value"] is { } v ? Convert.FromBase64String(v.GetValue<string>()) : [], Long(kv["lease"]), Long(kv["create_revision"]), Long(kv["mod_revision"]));

    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    // The gateway writes 64-bit integers as JSON strings; absent fields are zero.
    private static long Long(JsonNode? node) => node is null ? 0 : long.Parse(node.ToString(), System.Globalization.CultureInfo.InvariantCulture);
}
