namespace MirrorKv.Linearizability;

/// <summary>What an operation did to a register (one key).</summary>
public enum OperationKind : byte
{
    /// <summary>Returned the value it saw (null: the key was absent).</summary>
    Read = 0,

    /// <summary>Set the value (null: deleted the key).</summary>
    Write = 1,
}
