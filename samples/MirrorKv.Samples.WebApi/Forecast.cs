namespace MirrorKv.Samples.WebApi;

/// <summary>What the API returns, cached as JSON by HybridCache.</summary>
public sealed record Forecast(string City, int TemperatureC, DateTimeOffset ComputedAt);
