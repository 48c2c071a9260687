using Microsoft.Extensions.Hosting;

namespace MirrorKv.Extensions.Caching;

/// <summary>
/// Creates the cache when the host starts, so that a bad setting is logged then rather than at the first
/// request, and connects in the background (a refused secret is logged then too). Never delays or fails the
/// start: under <see cref="CacheUnavailableBehavior.Fail"/> the options validation already stops a bad host.
/// </summary>
internal sealed class MirrorKvCacheStartup(MirrorKvCache cache) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = cache.WarmUpAsync();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
