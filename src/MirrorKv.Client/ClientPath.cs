namespace MirrorKv.Client;

/// <summary>Where a client's reads go.</summary>
public enum ClientPath
{
    /// <summary>To the primary, one-sided.</summary>
    Primary,

    /// <summary>The primary failed: reads go to the secondary as FAILOVER_READ with primary pointers.</summary>
    FailingOver,

    /// <summary>The table was rewritten: reads go to the secondary one-sided with translated pointers.</summary>
    Secondary,
}
