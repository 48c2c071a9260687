using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MirrorKv.Extensions.Caching;

/// <summary>Registers <see cref="MirrorKvCache"/> as the application's <see cref="IDistributedCache"/>.</summary>
public static class MirrorKvCacheServiceCollectionExtensions
{
    /// <summary>The configuration section read by <see cref="AddMirrorKvCache(IServiceCollection, IConfiguration)"/> by convention.</summary>
    public const string SectionName = "MirrorKv";

    /// <summary>
    /// Adds <see cref="MirrorKvCache"/> as <see cref="IDistributedCache"/> and <see cref="IBufferDistributedCache"/>
    /// (so HybridCache uses it as L2), with options set in code; they are validated when the host starts.
    /// </summary>
    public static IServiceCollection AddMirrorKvCache(this IServiceCollection services, Action<MirrorKvCacheOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<MirrorKvCacheOptions>().Configure(configure).ValidateOnStart();
        return AddCore(services);
    }

    /// <summary>
    /// As <see cref="AddMirrorKvCache(IServiceCollection, Action{MirrorKvCacheOptions})"/>, with options bound from
    /// <paramref name="configuration"/> (for example <c>builder.Configuration.GetSection("MirrorKv")</c>, which
    /// layers appsettings.json, environment variables such as <c>MirrorKv__PrimaryEndPoint</c>, and the command line).
    /// </summary>
    public static IServiceCollection AddMirrorKvCache(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<MirrorKvCacheOptions>().Bind(configuration).ValidateOnStart();
        return AddCore(services);
    }

    private static IServiceCollection AddCore(IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MirrorKvCacheOptions>, MirrorKvCacheOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<MirrorKvCache>();
        services.Replace(ServiceDescriptor.Singleton<IDistributedCache>(sp => sp.GetRequiredService<MirrorKvCache>()));
        services.Replace(ServiceDescriptor.Singleton<IBufferDistributedCache>(sp => sp.GetRequiredService<MirrorKvCache>()));
        return services;
    }
}
