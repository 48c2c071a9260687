namespace MirrorKv.Adapter.Resp;

/// <summary>SET's flags.</summary>
[Flags]
internal enum SetOptions
{
    None = 0,

    /// <summary>NX: only when the key does not exist.</summary>
    IfAbsent = 1,

    /// <summary>XX: only when the key exists.</summary>
    IfPresent = 2,

    /// <summary>GET: reply with the old value.</summary>
    Get = 4,

    /// <summary>KEEPTTL: keep the key's time to live.</summary>
    KeepTtl = 8,

    /// <summary>EX, PX, EXAT or PXAT was given.</summary>
    Expiry = 16,
}
