using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
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
    /// layers appsettings.json, environment variables such as <c>MirrorKv__EndPoints</c>, and the command line).
    /// A <c>WhenUnavailable</c> that names no behavior is reported like any bad setting (logged, Unhealthy) and
    /// Miss applies, rather than failing the binding.
    /// </summary>
    public static IServiceCollection AddMirrorKvCache(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<MirrorKvCacheOptions>().Configure(options => Bind(configuration, options)).ValidateOnStart();
        services.AddSingleton<IOptionsChangeTokenSource<MirrorKvCacheOptions>>(new ConfigurationChangeTokenSource<MirrorKvCacheOptions>(configuration));
        return AddCore(services);
    }

    // The binder throws on an enum value it cannot convert, with a message that lists no valid values; so
    // WhenUnavailable is left out of the binding and parsed here.
    private static void Bind(IConfiguration configuration, MirrorKvCacheOptions options)
    {
        const string key = nameof(MirrorKvCacheOptions.WhenUnavailable);
        IEnumerable<KeyValuePair<string, string?>> rest = configuration.AsEnumerable(makePathsRelative: true)
            .Where(pair => !pair.Key.Equals(key, StringComparison.OrdinalIgnoreCase));
        new ConfigurationBuilder().AddInMemoryCollection(rest).Build().Bind(options);
        if (configuration[key] is { Length: > 0 } text)
        {
            if (Enum.TryParse(text, ignoreCase: true, out CacheUnavailableBehavior behavior) && Enum.IsDefined(behavior))
            {
                options.WhenUnavailable = behavior;
            }
            else
            {
                options.InvalidWhenUnavailable = text;
            }
        }
    }

    private static IServiceCollection AddCore(IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MirrorKvCacheOptions>, MirrorKvCacheOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<MirrorKvCache>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, MirrorKvCacheStartup>());
        services.Replace(ServiceDescriptor.Singleton<IDistributedCache>(sp => sp.GetRequiredService<MirrorKvCache>()));
        services.Replace(ServiceDescriptor.Singleton<IBufferDistributedCache>(sp => sp.GetRequiredService<MirrorKvCache>()));
        return services;
    }
}
