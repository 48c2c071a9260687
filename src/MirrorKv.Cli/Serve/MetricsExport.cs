using System.Net;
using System.Net.Sockets;
using MirrorKv.Client;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Configuration;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace MirrorKv.Cli.Serve;

/// <summary>
/// Where <c>serve</c> exports the node's meter: a Prometheus scrape endpoint, OTLP, both or neither. Through
/// the OpenTelemetry SDK either way, so that a scrape and an OTLP pipeline into Prometheus give the same
/// names (the SDK applies the specification's translation: dots to underscores, unit suffixes, <c>_total</c>).
/// </summary>
internal sealed record MetricsExport(IPEndPoint? ScrapeEndPoint, Uri? OtlpEndPoint)
{
    /// <summary>The standard variable the OTLP exporter reads when no <c>--otlp-endpoint</c> is given.</summary>
    public const string OtlpVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>Path of the scrape endpoint (Prometheus's default).</summary>
    public const string ScrapePath = "/metrics";

    private bool OtlpFromEnvironment => OtlpEndPoint is null && !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(OtlpVariable));

    public bool IsEnabled => ScrapeEndPoint is not null || OtlpEndPoint is not null || OtlpFromEnvironment;

    /// <summary>The HttpListener host for the scrape endpoint: <c>+</c> (every address) for a wildcard address.</summary>
    public static string ListenerHost(IPAddress address) =>
        address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) ? "+"
        : address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]"
        : address.ToString();

    /// <summary>Registers the SDK's meter provider on the host; it starts and stops with the host.</summary>
    public void AddTo(HostApplicationBuilder builder, string serviceInstanceId)
    {
        if (IsEnabled)
        {
            AddExporters(builder, serviceInstanceId);
        }
    }

    // Apart, so that a node without metrics export does not load the OpenTelemetry assemblies (compiling a method
    // loads every assembly it names): 1 MB less resident memory.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void AddExporters(HostApplicationBuilder builder, string serviceInstanceId)
    {
        // The SDK reads its OTEL_* settings (endpoint, protocol, export interval, headers) from the host's
        // configuration, which takes only MIRRORKV_ variables: hand it the OTEL_ ones as they are, then
        // --otlp-endpoint over them, so that the flag means exactly what the standard variable means (with
        // http/protobuf, /v1/metrics is appended to it).
        var otel = new Dictionary<string, string?>();
        foreach (System.Collections.DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            if (variable.Key is string name && name.StartsWith("OTEL_", StringComparison.Ordinal))
            {
                otel[name] = variable.Value as string;
            }
        }

        if (OtlpEndPoint is { } otlp)
        {
            otel[OtlpVariable] = otlp.ToString();
        }

        builder.Configuration.AddInMemoryCollection(otel);
        builder.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("mirrorkv", serviceInstanceId: serviceInstanceId))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(MirrorKvTelemetry.Name);
                if (ScrapeEndPoint is { } scrape)
                {
                    metrics.AddPrometheusHttpListener(o =>
                    {
                        o.Host = ListenerHost(scrape.Address);
                        o.Port = scrape.Port;
                        o.ScrapeEndpointPath = ScrapePath;
                    });
                }

                if (OtlpEndPoint is not null || OtlpFromEnvironment)
                {
                    metrics.AddOtlpExporter();
                }
            });
    }
}
