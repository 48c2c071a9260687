namespace MirrorKv.Adapter.Resp;

/// <summary>What one RESP request may be: every bound the parser enforces before it buffers or records anything.</summary>
/// <param name="MaxRequestBytes">A whole request (the node's maximum frame size): what one connection may make the node buffer.</param>
/// <param name="MaxBulkLength">One argument: the largest value (or key) the store takes, so that nothing larger is ever buffered.</param>
/// <param name="MaxArguments">Arguments of one request; bounds the per-connection table of argument offsets.</param>
/// <param name="MaxInlineLength">One inline command line (a command typed without RESP framing).</param>
internal readonly record struct RespLimits(int MaxRequestBytes, int MaxBulkLength, int MaxArguments = RespLimits.DefaultMaxArguments, int MaxInlineLength = RespLimits.DefaultMaxInlineLength)
{
    /// <summary>
    /// 65,536 arguments: an MSET or DEL of 32,768 keys, far beyond what clients batch (redis-benchmark's MSET has
    /// 10 keys), while the offset table stays under 512 KiB.
    /// </summary>
    public const int DefaultMaxArguments = 1 << 16;

    /// <summary>64 KiB, as redis allows: a line typed by hand is far shorter.</summary>
    public const int DefaultMaxInlineLength = 64 * 1024;

    /// <summary>
    /// Longest length line ("*N" or "$N" and CRLF): a sign and 19 digits are more than any valid length needs,
    /// so a longer unterminated line is garbage, not a request still arriving.
    /// </summary>
    public const int MaxLengthLine = 22;
}
