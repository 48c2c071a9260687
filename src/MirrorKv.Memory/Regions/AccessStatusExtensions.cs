namespace MirrorKv.Memory;

/// <summary>Human-readable reasons for <see cref="AccessStatus"/>, used in error replies and logs.</summary>
public static class AccessStatusExtensions
{
    /// <summary>One sentence saying what failed.</summary>
    public static string Describe(this AccessStatus status) => status switch
    {
        AccessStatus.Ok => "access allowed",
        AccessStatus.UnknownRKey => "rkey names no registered region of this incarnation",
        AccessStatus.ZeroLength => "length is zero",
        AccessStatus.BeforeRegion => "address lies before the region",
        AccessStatus.PastEnd => "range runs past the end of the region",
        AccessStatus.LengthOverflow => "address + length overflows 64 bits",
        AccessStatus.ReadNotAllowed => "remote read not allowed on this region for this caller",
        AccessStatus.WriteNotAllowed => "remote write not allowed on this region for this caller",
        AccessStatus.TooLong => "length exceeds the largest single access",
        _ => $"unknown access status {(byte)status}",
    };
}
