namespace MirrorKv.Memory;

/// <summary>What a remote party may do with a registered memory region, as in ibverbs' access flags.</summary>
[Flags]
public enum AccessFlags
{
    /// <summary>No remote access.</summary>
    None = 0,

    /// <summary>One-sided READs are allowed (clients reading the store).</summary>
    RemoteRead = 1,

    /// <summary>One-sided WRITEs are allowed (only the peer adapter is ever granted this).</summary>
    RemoteWrite = 2,

    /// <summary>Both remote read and remote write.</summary>
    RemoteReadWrite = RemoteRead | RemoteWrite,
}
