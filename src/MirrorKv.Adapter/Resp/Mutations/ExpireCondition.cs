namespace MirrorKv.Adapter.Resp;

/// <summary>EXPIRE's condition on the key's current deadline.</summary>
internal enum ExpireCondition
{
    /// <summary>Always.</summary>
    Always,

    /// <summary>NX: only a key without a deadline (PERSIST's opposite).</summary>
    IfNone,

    /// <summary>XX: only a key with a deadline (also what PERSIST asks).</summary>
    IfAny,

    /// <summary>GT: only a later deadline.</summary>
    IfGreater,

    /// <summary>LT: only an earlier deadline.</summary>
    IfLess,
}
