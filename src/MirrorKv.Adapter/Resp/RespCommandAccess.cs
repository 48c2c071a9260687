namespace MirrorKv.Adapter.Resp;

/// <summary>What a command touches, which decides where it may run.</summary>
internal enum RespCommandAccess
{
    /// <summary>The connection or the server, not the data: served in every role.</summary>
    None,

    /// <summary>Reads keys: served by a primary, a promoting node and a secondary.</summary>
    Read,

    /// <summary>Changes keys: served by the primary only.</summary>
    Write,
}
