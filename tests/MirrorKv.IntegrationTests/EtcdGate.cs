using System.Net;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// An HTTP relay in front of etcd's JSON gateway that can hold transactions (<c>/v3/kv/txn</c>: the claims of
/// the leader key) until the test lets them through, in the order they came; everything else passes at once.
/// So a test can keep a node's winning claim in flight while something else happens.
/// </summary>
internal sealed class EtcdGate : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly HttpClient _etcd = new();
    private readonly Uri _target;
    private readonly Lock _lock = new();
    private readonly List<TaskCompletionSource> _held = [];
    private readonly Dictionary<string, int> _requests = [];
    private readonly Dictionary<string, int> _rangeReads = [];
    private readonly Task _serving;
    private bool _holding;

    public EtcdGate(Uri etcd)
    {
        _target = etcd;
        Url = new Uri($"http://127.0.0.1:{Ports.Free()}/");
        _listener.Prefixes.Add(Url.ToString());
        _listener.Start();
        _serving = ServeAsync();
    }

    /// <summary>Where nodes reach etcd through the gate.</summary>
    public Uri Url { get; }

    /// <summary>Transactions held so far (released ones included).</summary>
    public int Held
    {
        get
        {
            lock (_lock)
            {
                return _held.Count;
            }
        }
    }

    /// <summary>Requests seen so far for <paramref name="path"/> (such as <c>/v3/kv/txn</c>), held ones included.</summary>
    public int Requests(string path)
    {
        lock (_lock)
        {
            return _requests.GetValueOrDefault(path);
        }
    }

    /// <summary>
    /// Range reads seen so far of keys ending with <paramref name="keySuffix"/> (such as <c>/leader</c>): a node's
    /// takeover reads the leader key, while a secondary's read lease reads the in-sync key many times a second.
    /// </summary>
    public int RangeReads(string keySuffix)
    {
        lock (_lock)
        {
            return _rangeReads.Where(read => read.Key.EndsWith(keySuffix, StringComparison.Ordinal)).Sum(read => read.Value);
        }
    }

    /// <summary>From now on every transaction waits until <see cref="ReleaseAsync"/>.</summary>
    public void Hold()
    {
        lock (_lock)
        {
            _holding = true;
        }
    }

    /// <summary>Lets the held transactions through one after the other, in the order they came, and holds no more.</summary>
    public async Task ReleaseAsync()
    {
        TaskCompletionSource[] held;
        lock (_lock)
        {
            _holding = false;
            held = [.. _held];
        }

        foreach (TaskCompletionSource gate in held)
        {
            gate.TrySetResult();

            // The next one only once this one was answered: etcd sees them in this order.
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ReleaseAsync();
        _listener.Stop();
        await _serving.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _listener.Close();
        _etcd.Dispose();
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = RelayAsync(context);
        }
    }

    // The key of a range request of etcd's JSON gateway ({"key": base64}); null when it cannot be read.
    private static string? RangeKey(byte[] body)
    {
        try
        {
            string? key = System.Text.Json.Nodes.JsonNode.Parse(body)?["key"]?.GetValue<string>();
            return key is null ? null : System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(key));
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    private async Task RelayAsync(HttpListenerContext context)
    {
        try
        {
            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            string path = context.Request.Url!.AbsolutePath;
            string? rangeKey = path == "/v3/kv/range" ? RangeKey(body.ToArray()) : null;
            lock (_lock)
            {
                _requests[path] = _requests.GetValueOrDefault(path) + 1;
                if (rangeKey is not null)
                {
                    _rangeReads[rangeKey] = _rangeReads.GetValueOrDefault(rangeKey) + 1;
                }
            }

            if (path == "/v3/kv/txn")
            {
                TaskCompletionSource? gate = null;
                lock (_lock)
                {
                    if (_holding)
                    {
                        gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        _held.Add(gate);
                    }
                }

                if (gate is not null)
                {
                    await gate.Task;
                }
            }

            using var content = new ByteArrayContent(body.ToArray());
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using HttpResponseMessage reply = await _etcd.PostAsync(new Uri(_target, path), content);
            byte[] answer = await reply.Content.ReadAsByteArrayAsync();
            context.Response.StatusCode = (int)reply.StatusCode;
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync(answer);
            context.Response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or HttpRequestException or IOException or ObjectDisposedException)
        {
            context.Response.Abort();
        }
    }
}
