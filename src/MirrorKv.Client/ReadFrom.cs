namespace MirrorKv.Client;

/// <summary>Which node of the pair one-sided reads go to while both serve.</summary>
public enum ReadFrom
{
    /// <summary>The primary only; the secondary is read only after the primary failed.</summary>
    Primary,

    /// <summary>
    /// The primary, hedged: a READ the primary has not answered within the hedge delay is sent to the secondary
    /// as well (FAILOVER_READ with the same pointer) and the first valid answer wins; until the primary sends
    /// anything again, reads then start at the secondary. The default.
    /// </summary>
    PreferPrimary,

    /// <summary>
    /// Both nodes in turn (the secondary through its translation, FAILOVER_READ), each hedged to the other: the
    /// secondary's copy used for read capacity. Every answer is as fresh as the last acknowledged write.
    /// </summary>
    Balanced,
}
