namespace MirrorKv.Samples.WebApi;

/// <summary>Stands for an expensive computation or a slow upstream service: what the cache is for.</summary>
public sealed class ForecastSource
{
    private long _computed;

    /// <summary>How many forecasts were computed (cache misses everywhere).</summary>
    public long Computed => Interlocked.Read(ref _computed);

    /// <summary>Computes a forecast; takes 20 ms.</summary>
    public async ValueTask<Forecast> ComputeAsync(string city, CancellationToken cancellationToken)
    {
        await Task.Delay(20, cancellationToken);
        Interlocked.Increment(ref _computed);
        int seed = city.Aggregate(17, (h, c) => (h * 31) + c);
        return new Forecast(city, 10 + (Math.Abs(seed) % 20), DateTimeOffset.UtcNow);
    }
}
