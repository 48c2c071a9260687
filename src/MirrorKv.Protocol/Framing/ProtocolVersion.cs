namespace MirrorKv.Protocol;

/// <summary>
/// A protocol version as HELLO and its reply carry it: two bytes, the major version first, then the minor
/// (read as one little-endian u16: major + 256 × minor). Version 1.0 is the bytes <c>01 00</c>, the u16 1
/// that callers built before 1.1 send; 1.1 is <c>01 01</c>, 1.2 <c>01 02</c>, 1.3 <c>01 03</c>, 1.4 <c>01 04</c>, 1.5 <c>01 05</c>, 1.6 <c>01 06</c>. A node answers a HELLO with
/// <see cref="Negotiate"/>: the highest version both sides speak.
/// </summary>
/// <param name="Major">Incompatible changes; a node refuses a major it does not speak.</param>
/// <param name="Minor">Compatible additions within a major; a node answers the lower of the two.</param>
public readonly record struct ProtocolVersion(byte Major, byte Minor)
{
    /// <summary>1.0: the first version; frames and payloads as 1.1 has them.</summary>
    public static ProtocolVersion V1_0 => new(1, 0);

    /// <summary>1.1: the same frames as 1.0, with every rule of docs/protocol.md kept by the node.</summary>
    public static ProtocolVersion V1_1 => new(1, 1);

    /// <summary>1.2: adds GET (0x14), a two-sided read of a key's value; nothing else changes.</summary>
    public static ProtocolVersion V1_2 => new(1, 2);

    /// <summary>1.3: everything of 1.2, plus CLUSTER_MAP (0x33) and the Moved status (38) of a cluster's nodes, and NoCluster (39).</summary>
    public static ProtocolVersion V1_3 => new(1, 3);

    /// <summary>1.4: everything of 1.3, plus SLOT_EXPORT, SLOT_IMPORT and SLOT_RETIRE (0x34-0x36) for moving slots, and SlotsNotMoving (40).</summary>
    public static ProtocolVersion V1_4 => new(1, 4);

    /// <summary>1.5: everything of 1.4, plus READ_LEASE (0x22) between the nodes of a pair and NotInSync (41).</summary>
    public static ProtocolVersion V1_5 => new(1, 5);

    /// <summary>
    /// 1.6: everything of 1.5, and the HELLO reply to a peer adapter that offered 1.6 or later ends with the node's
    /// memory limit and largest value, so that a secondary that could not hold the primary's data refuses to follow it.
    /// </summary>
    public static ProtocolVersion V1_6 => new(1, 6);

    /// <summary>The highest version this code speaks.</summary>
    public static ProtocolVersion Current => V1_6;

    /// <summary>The two bytes as one little-endian u16, as the HELLO field holds them.</summary>
    public ushort Encoded => (ushort)(Major | (Minor << 8));

    /// <summary>The version a u16 HELLO field holds.</summary>
    public static ProtocolVersion FromEncoded(ushort encoded) => new((byte)encoded, (byte)(encoded >> 8));

    /// <summary>
    /// The version a node speaking <see cref="Current"/> answers to a caller that offered
    /// <paramref name="offered"/> (the highest version the caller speaks), or null when the majors differ.
    /// </summary>
    public static ProtocolVersion? Negotiate(ProtocolVersion offered) =>
        offered.Major != Current.Major ? null : new ProtocolVersion(offered.Major, Math.Min(offered.Minor, Current.Minor));

    /// <inheritdoc />
    public override string ToString() => $"{Major}.{Minor}";
}
