namespace MirrorKv.Store;

/// <summary>What an <see cref="IValueMutation"/> decided.</summary>
public enum MutationDecision
{
    /// <summary>Leave the key as it is.</summary>
    Keep = 0,

    /// <summary>Write <see cref="IValueMutation.NewValue"/>.</summary>
    Write = 1,

    /// <summary>Delete the key.</summary>
    Delete = 2,
}
