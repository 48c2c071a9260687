using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Caching.Hybrid;
using MirrorKv.Extensions.Caching;
using MirrorKv.Samples.WebApi;

// A small API that caches slow answers in HybridCache, with a MirrorKv pair as the shared L2: every
// instance of the API sees what another one computed, and the cache survives the loss of a node.
WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
builder.Services.AddHybridCache();
builder.Services.AddMirrorKvCache(builder.Configuration.GetSection(MirrorKvCacheServiceCollectionExtensions.SectionName));
builder.Services.AddHealthChecks().AddMirrorKv();
builder.Services.AddSingleton<ForecastSource>();

WebApplication app = builder.Build();
app.MapGet("/forecast/{city}", async (string city, HybridCache cache, ForecastSource source, CancellationToken cancellationToken) =>
    await cache.GetOrCreateAsync($"forecast:{city}", ct => source.ComputeAsync(city, ct), cancellationToken: cancellationToken));
app.MapHealthChecks("/health", new HealthCheckOptions
{
    ResponseWriter = (context, report) =>
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        }));
    },
});
app.Run();

/// <summary>The entry point, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
