using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace MirrorKv.Extensions.Caching;

/// <summary>Adds the <see cref="MirrorKvHealthCheck"/> of the registered <see cref="MirrorKvCache"/>.</summary>
public static class MirrorKvHealthChecksBuilderExtensions
{
    /// <summary>Adds a check named <paramref name="name"/> (default <c>mirrorkv</c>) for the cache's pair.</summary>
    public static IHealthChecksBuilder AddMirrorKv(this IHealthChecksBuilder builder, string name = "mirrorkv", HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Add(new HealthCheckRegistration(name, sp => new MirrorKvHealthCheck(sp.GetRequiredService<MirrorKvCache>()), failureStatus, tags));
    }
}
