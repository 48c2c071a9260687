namespace MirrorKv.Linearizability;

/// <summary>How an operation ended, as its caller saw it.</summary>
public enum Outcome : byte
{
    /// <summary>Still running when the history was taken: treated as <see cref="Unknown"/>.</summary>
    Pending = 0,

    /// <summary>Completed: a write took effect, a read returned its value.</summary>
    Ok = 1,

    /// <summary>Certainly had no effect (refused before anything changed); dropped from the check.</summary>
    Fail = 2,

    /// <summary>
    /// May or may not have taken effect (a write that timed out, or whose node died before answering): it
    /// may be linearized anywhere after its invocation, or not at all. A read with this outcome constrains
    /// nothing and is dropped.
    /// </summary>
    Unknown = 3,
}
