namespace MirrorKv.Memory;

/// <summary>Outcome of the remote access check; every value but <see cref="Ok"/> names what failed.</summary>
public enum AccessStatus : byte
{
    /// <summary>The access is allowed.</summary>
    Ok = 0,

    /// <summary>The rkey names no region registered in this incarnation (unknown, or from an earlier one).</summary>
    UnknownRKey = 1,

    /// <summary>The length is zero; an empty access is always a client bug.</summary>
    ZeroLength = 2,

    /// <summary>The address lies before the region's base address.</summary>
    BeforeRegion = 3,

    /// <summary>The range starts inside the region but runs past its end (or starts past it).</summary>
    PastEnd = 4,

    /// <summary>address + length does not fit in 64 bits.</summary>
    LengthOverflow = 5,

    /// <summary>The region, or the caller's grant, does not allow remote reads.</summary>
    ReadNotAllowed = 6,

    /// <summary>The region, or the caller's grant, does not allow remote writes.</summary>
    WriteNotAllowed = 7,

    /// <summary>The length exceeds the largest single access (<see cref="int.MaxValue"/> bytes).</summary>
    TooLong = 8,
}
