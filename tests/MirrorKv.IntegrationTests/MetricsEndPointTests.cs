using System.Net;
using System.Text;
using MirrorKv.Client;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// <c>serve --metrics-listen</c> and <c>--otlp-endpoint</c> on real node processes: the scrape parsed as
/// Prometheus parses it, its values following writes, reads and a failover; OTLP received by a stand-in collector.
/// </summary>
[Collection(nameof(ProcessTests))]
public class MetricsEndPointTests
{
    [Fact]
    public async Task Scrape_FollowsWritesReadsAndAFailover()
    {
        var primaryMetrics = new IPEndPoint(IPAddress.Loopback, Ports.Free());
        var secondaryMetrics = new IPEndPoint(IPAddress.Loopback, Ports.Free());
        await using RespPair pair = await RespPair.StartAsync(["--metrics-listen", primaryMetrics.ToString()], ["--metrics-listen", secondaryMetrics.ToString()]);
        string[] atPrimary = [$"server_port={pair.Primary.EndPoint.Port}"];
        string[] atSecondary = [$"server_port={pair.Secondary.EndPoint.Port}"];

        PrometheusScrape before = await PrometheusScrape.FetchAsync(primaryMetrics);
        Assert.Equal("counter", before.Types["mirrorkv_server_operations_total"]);
        Assert.Equal("gauge", before.Types["mirrorkv_server_entry_count"]);
        Assert.Equal(1, before.Value("mirrorkv_server_role", [.. atPrimary, "mirrorkv_role=primary"]));
        Assert.Equal(0, before.Value("mirrorkv_server_role", [.. atPrimary, "mirrorkv_role=secondary"]));
        Assert.Equal(1, before.Value("mirrorkv_server_epoch", atPrimary));
        Assert.Equal(0, before.Value("mirrorkv_server_entry_count", atPrimary));
        Assert.Equal(64 << 20, before.Value("mirrorkv_server_memory_limit_bytes", atPrimary));
        Assert.Equal(1, before.Value("mirrorkv_server_protected", atPrimary));
        Assert.Contains(before.Samples, s => s.Name == "target_info" && s.Labels.GetValueOrDefault("service_name") == "mirrorkv");
        PrometheusScrape secondaryBefore = await PrometheusScrape.FetchAsync(secondaryMetrics);
        Assert.Equal(1, secondaryBefore.Value("mirrorkv_server_role", [.. atSecondary, "mirrorkv_role=secondary"]));

        const int Keys = 40;
        await using (MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [pair.Primary.EndPoint] }))
        {
            for (int i = 0; i < Keys; i++)
            {
                await client.SetAsync($"metric:{i}", Encoding.UTF8.GetBytes(new string('m', 100 + i)));
            }

            Assert.True(await client.DeleteAsync("metric:0"));
        }

        // A second client has no pointers yet: one LOOKUP per key, then one-sided READs.
        await using (MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [pair.Primary.EndPoint] }))
        {
            for (int round = 0; round < 2; round++)
            {
                for (int i = 1; i < Keys; i++)
                {
                    Assert.NotNull(await client.GetAsync($"metric:{i}"));
                }
            }
        }

        // The scrape endpoint caches a collection for 300 ms: wait for one taken after the traffic.
        PrometheusScrape after = before;
        await Waits.UntilAsync(async () => (after = await PrometheusScrape.FetchAsync(primaryMetrics)).Value("mirrorkv_server_operations_total", [.. atPrimary, "db_operation_name=READ"]) >= 2 * (Keys - 1), "the reads in the primary's scrape");
        Assert.Equal(1, after.Value("mirrorkv_server_operations_total", [.. atPrimary, "db_operation_name=DELETE"]));
        Assert.Equal(Keys, after.Value("mirrorkv_server_operations_total", [.. atPrimary, "db_operation_name=WRITE"]));
        Assert.InRange(after.Value("mirrorkv_server_operations_total", [.. atPrimary, "db_operation_name=READ"]), 2 * (Keys - 1), 2 * (Keys - 1) + 10);
        Assert.InRange(after.Value("mirrorkv_server_operations_total", [.. atPrimary, "db_operation_name=LOOKUP"]), Keys - 1, Keys + 10);
        Assert.True(after.Value("mirrorkv_server_read_io_bytes_total", atPrimary) >= 2 * (Keys - 1) * 100);
        Assert.Equal(Keys - 1, after.Value("mirrorkv_server_entry_count", atPrimary));
        Assert.True(after.Value("mirrorkv_server_memory_usage_bytes", atPrimary) > before.Value("mirrorkv_server_memory_usage_bytes", atPrimary));
        // One record per write and delete, plus one per chunk the store registered as it filled (a few here).
        double lsn = after.Value("mirrorkv_server_replication_lsn", atPrimary);
        Assert.InRange(lsn, Keys + 1, Keys + 1 + 8);
        await Waits.UntilAsync(async () => (await PrometheusScrape.FetchAsync(secondaryMetrics)).Value("mirrorkv_server_replication_lsn", atSecondary) == lsn, "the secondary's scrape at the primary's LSN");

        // kill -9 of the primary: the secondary's scrape shows it primary under epoch 2, and one role only.
        await pair.Primary.KillAsync();
        PrometheusScrape promoted = secondaryBefore;
        await Waits.UntilAsync(async () => (promoted = await PrometheusScrape.FetchAsync(secondaryMetrics)).Value("mirrorkv_server_role", [.. atSecondary, "mirrorkv_role=primary"]) == 1, "the promoted secondary's scrape showing it primary", 30);
        Assert.Equal(2, promoted.Value("mirrorkv_server_epoch", atSecondary));
        Assert.Equal(1, promoted.Samples.Where(s => s.Name == "mirrorkv_server_role").Sum(s => s.Value));
        Assert.Equal(0, promoted.Value("mirrorkv_server_role", [.. atSecondary, "mirrorkv_role=secondary"]));
        Assert.Equal(Keys - 1, promoted.Value("mirrorkv_server_entry_count", atSecondary));
    }

    [Fact]
    public async Task Otlp_ExportsTheNodeMeter_ToTheCollectorAtTheStandardPath()
    {
        int port = Ports.Free();
        using var collector = new HttpListener();
        collector.Prefixes.Add($"http://127.0.0.1:{port}/");
        collector.Start();
        await using NodeProcess node = await NodeProcess.StartAsync(
            ["--role", "primary", "--otlp-endpoint", $"http://127.0.0.1:{port}"],
            environment: new Dictionary<string, string> { ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf", ["OTEL_METRIC_EXPORT_INTERVAL"] = "300" });

        // An export may come before the node's meter exists (the SDK starts with the host, the node in its
        // hosted service): wait for the first one that carries the node's instruments.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var paths = new List<string>();
        string payload = "";
        while (!payload.Contains("mirrorkv.server.operations", StringComparison.Ordinal))
        {
            HttpListenerContext request = await collector.GetContextAsync().WaitAsync(timeout.Token);
            using var body = new MemoryStream();
            await request.Request.InputStream.CopyToAsync(body, timeout.Token);
            paths.Add($"{request.Request.Url!.AbsolutePath} {request.Request.ContentType}");
            request.Response.StatusCode = 200;
            request.Response.Close();

            // Protobuf carries strings as their UTF-8 bytes: the instruments' names and the resource are in it.
            payload = Encoding.UTF8.GetString(body.ToArray());
        }

        Assert.All(paths, p => Assert.Equal("/v1/metrics application/x-protobuf", p));
        Assert.Contains("mirrorkv.server.role", payload, StringComparison.Ordinal);
        Assert.Contains("service.instance.id", payload, StringComparison.Ordinal);
        Assert.Contains(node.EndPoint.ToString(), payload, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_MetricsPortInUse_OrBadOtlpUrl_FailsWithOneLine()
    {
        using var taken = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        (int code, string output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "serve", "--listen", Ports.FreeEndPoint().ToString(), "--max-memory", "16m", "--metrics-listen", taken.LocalEndpoint.ToString()!);
        Assert.Equal(2, code);
        Assert.Contains("error: cannot start the primary", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);

        (code, output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "serve", "--otlp-endpoint", "collector:4317");
        Assert.Equal(2, code);
        Assert.Contains("--otlp-endpoint (Node:OtlpEndPoint): 'collector:4317' is not an http or https URL", output, StringComparison.Ordinal);
    }
}
