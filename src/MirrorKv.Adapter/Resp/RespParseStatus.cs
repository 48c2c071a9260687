namespace MirrorKv.Adapter.Resp;

/// <summary>What <see cref="RespParser.TryParse"/> found at the start of the buffer.</summary>
internal enum RespParseStatus
{
    /// <summary>A whole request: its arguments are recorded and its length is known.</summary>
    Complete,

    /// <summary>The start of a request that may still be valid: wait for more bytes.</summary>
    Incomplete,

    /// <summary>Bytes that no more input can make a valid request of: a protocol error.</summary>
    Error,
}
