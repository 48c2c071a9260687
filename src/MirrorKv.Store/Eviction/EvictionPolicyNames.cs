namespace MirrorKv.Store;

/// <summary>The names of <see cref="EvictionPolicy"/> in configuration, on the command line and in RESP (redis's spelling).</summary>
public static class EvictionPolicyNames
{
    /// <summary>The names accepted, for messages.</summary>
    public const string Accepted = "noeviction, allkeys-lru, allkeys-lfu, volatile-ttl";

    /// <summary>The names accepted, one per element (for a command line's list of choices).</summary>
    public static IReadOnlyList<string> All { get; } = ["noeviction", "allkeys-lru", "allkeys-lfu", "volatile-ttl"];

    /// <summary>The redis name of a policy.</summary>
    public static string Name(EvictionPolicy policy) => policy switch
    {
        EvictionPolicy.AllKeysLru => "allkeys-lru",
        EvictionPolicy.AllKeysLfu => "allkeys-lfu",
        EvictionPolicy.VolatileTtl => "volatile-ttl",
        _ => "noeviction",
    };

    /// <summary>Parses a name (case-insensitive); false when it names no policy.</summary>
    public static bool TryParse(string? name, out EvictionPolicy policy)
    {
        switch (name?.Trim().ToLowerInvariant())
        {
            case "noeviction":
                policy = EvictionPolicy.NoEviction;
                return true;
            case "allkeys-lru":
                policy = EvictionPolicy.AllKeysLru;
                return true;
            case "allkeys-lfu":
                policy = EvictionPolicy.AllKeysLfu;
                return true;
            case "volatile-ttl":
                policy = EvictionPolicy.VolatileTtl;
                return true;
            default:
                policy = EvictionPolicy.NoEviction;
                return false;
        }
    }
}
