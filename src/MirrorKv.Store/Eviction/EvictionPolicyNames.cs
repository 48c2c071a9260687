namespace MirrorKv.Store;

/// <summary>The names of <see cref="EvictionPolicy"/> in configuration, on the command line and in RESP (redis's spelling).</summary>
public static class EvictionPolicyNames
{
    /// <summary>The names accepted, for messages.</summary>
    public const string Accepted = "noeviction, allkeys-lru";

    /// <summary>The redis name of a policy.</summary>
    public static string Name(EvictionPolicy policy) => policy switch
    {
        EvictionPolicy.AllKeysLru => "allkeys-lru",
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
            default:
                policy = EvictionPolicy.NoEviction;
                return false;
        }
    }
}
