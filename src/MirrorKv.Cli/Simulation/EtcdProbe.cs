using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace MirrorKv.Cli.Simulation;

/// <summary>
/// The few etcd calls the simulation makes besides the nodes' own code: leases for the simulated pairs, their
/// coordinator keys, and etcd's Prometheus counters (<c>/metrics</c>), which count what etcd served whoever asked.
/// Over etcd's JSON gateway, as the nodes talk to it. Thread-safe; one HTTP connection pool for all callers.
/// </summary>
internal sealed class EtcdProbe(Uri url) : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

    public Uri Url => url;

    /// <summary>Grants a lease of <paramref name="ttlSeconds"/>; its id.</summary>
    public async Task<long> GrantAsync(int ttlSeconds, CancellationToken cancellationToken) =>
        Long((await PostAsync("/v3/lease/grant", new JsonObject { ["TTL"] = ttlSeconds }, cancellationToken))["ID"]);

    /// <summary>Renews a lease; its TTL in seconds, 0 when etcd no longer has it.</summary>
    public async Task<long> KeepAliveAsync(long lease, CancellationToken cancellationToken) =>
        Long((await PostAsync("/v3/lease/keepalive", new JsonObject { ["ID"] = Text(lease) }, cancellationToken))["result"]?["TTL"]);

    /// <summary>Revokes a lease and deletes its keys.</summary>
    public Task RevokeAsync(long lease, CancellationToken cancellationToken) =>
        PostAsync("/v3/lease/revoke", new JsonObject { ["ID"] = Text(lease) }, cancellationToken);

    /// <summary>Puts every (key, value, lease) in one transaction: one etcd revision, as a claim of a pair's lead writes its keys.</summary>
    public async Task PutAllAsync(IEnumerable<(string Key, byte[] Value, long Lease)> puts, CancellationToken cancellationToken)
    {
        var success = new JsonArray();
        foreach ((string key, byte[] value, long lease) in puts)
        {
            var put = new JsonObject { ["key"] = B64(key), ["value"] = Convert.ToBase64String(value) };
            if (lease != 0)
            {
                put["lease"] = Text(lease);
            }

            success.Add(new JsonObject { ["request_put"] = put });
        }

        await PostAsync("/v3/kv/txn", new JsonObject { ["compare"] = new JsonArray(), ["success"] = success }, cancellationToken);
    }

    /// <summary>A key's value, or null.</summary>
    public async Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken) =>
        (await PostAsync("/v3/kv/range", new JsonObject { ["key"] = B64(key) }, cancellationToken))["kvs"]?[0]?["value"] is { } value
            ? Convert.FromBase64String(value.GetValue<string>())
            : null;

    /// <summary>
    /// Bytes of the JSON gateway's answer to a range read of every key under <paramref name="prefix"/>: what one
    /// node's read of the cluster's prefix takes off the wire.
    /// </summary>
    public async Task<long> RangeBytesAsync(string prefix, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["key"] = B64(prefix), ["range_end"] = B64(End(prefix)) };
        using HttpResponseMessage response = await _http.PostAsync(new Uri(url, "/v3/kv/range"), JsonContent.Create(body), cancellationToken);
        return (await response.Content.ReadAsByteArrayAsync(cancellationToken)).Length;
    }

    /// <summary>How many keys there are under <paramref name="prefix"/>.</summary>
    public async Task<int> CountAsync(string prefix, CancellationToken cancellationToken) =>
        (int)Long((await PostAsync("/v3/kv/range", new JsonObject { ["key"] = B64(prefix), ["range_end"] = B64(End(prefix)), ["count_only"] = true }, cancellationToken))["count"]);

    /// <summary>
    /// The sum of etcd's Prometheus samples named <paramref name="name"/> whose labels contain every one of
    /// <paramref name="labels"/> (such as <c>grpc_method="Range"</c>).
    /// </summary>
    public async Task<double> MetricAsync(string name, CancellationToken cancellationToken, params string[] labels)
    {
        string text = await _http.GetStringAsync(new Uri(url, "/metrics"), cancellationToken);
        double sum = 0;
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith(name, StringComparison.Ordinal) && line.Length > name.Length && line[name.Length] is ' ' or '{'
                && labels.All(l => line.Contains(l, StringComparison.Ordinal)))
            {
                sum += double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return sum;
    }

    public void Dispose() => _http.Dispose();

    private async Task<JsonNode> PostAsync(string path, JsonObject body, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await _http.PostAsync(new Uri(url, path), JsonContent.Create(body), cancellationToken);
        JsonNode reply = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken)) ?? new JsonObject();
        return reply["error"] is { } error ? throw new InvalidOperationException($"etcd at {url}{path}: {error}") : reply;
    }

    // etcd's range end for "every key under prefix".
    private static string End(string prefix) => prefix[..^1] + (char)(prefix[^1] + 1);

    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    private static string Text(long n) => n.ToString(CultureInfo.InvariantCulture);

    // The gateway writes 64-bit integers as strings; absent is 0.
    private static long Long(JsonNode? node) => node is null ? 0 : long.Parse(node.ToString(), CultureInfo.InvariantCulture);
}
